import { ConsulKitError } from '../common/consul-kit.error.js';

/**
 * Consul Connect cannot work as configured: the agent has Connect off, the token may not get a
 * certificate, the certificate expired, or a peer is not who it should be. Names the service and
 * what to do; nothing falls back to plaintext.
 */
export class ConsulConnectError extends ConsulKitError {
  override readonly name = 'ConsulConnectError';

  constructor(
    message: string,
    /** The service whose certificate or call this is about. */
    readonly service: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
