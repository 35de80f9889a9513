import { ConsulKitError } from './consul-kit.error.js';

/**
 * A method of this package called where it cannot work: before the app bootstrapped, after it shut
 * down, or for a part the options leave out. The message names the method, why, and what to do.
 */
export class ConsulKitUsageError extends ConsulKitError {
  override readonly name = 'ConsulKitUsageError';

  constructor(
    /** What was called, e.g. `ConsulRegistrar.register()`. */
    readonly method: string,
    message: string,
  ) {
    super(`${method}: ${message}`);
  }
}
