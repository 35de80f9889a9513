import { ConsulKitError } from '../common/consul-kit.error.js';

/** A lock, election or semaphore that cannot be used as asked: the key, the reason and the fix. */
export class ConsulLockError extends ConsulKitError {
  override readonly name = 'ConsulLockError';

  constructor(
    /** The full KV key (or the option) concerned. */
    readonly key: string,
    message: string,
    readonly fix?: string,
  ) {
    super(`${message}${fix ? `. Fix: ${fix}` : ''}`);
  }
}
