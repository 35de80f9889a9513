import { ConsulKitError } from '../common/consul-kit.error.js';
/** Configuration could not be loaded at boot (with `failFast`). */
export class ConsulConfigLoadError extends ConsulKitError {
  override readonly name = 'ConsulConfigLoadError';
}

/** `getOrThrow()` of a path that has no value. */
export class ConsulConfigMissingError extends ConsulKitError {
  override readonly name = 'ConsulConfigMissingError';

  constructor(
    readonly path: string,
    prefixes: readonly string[],
  ) {
    super(`Configuration "${path}" is not set in any Consul KV context (${prefixes.join(', ')})`);
  }
}
