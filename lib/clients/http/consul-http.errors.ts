import { ConsulKitError } from '../../common/consul-kit.error.js';
/** The instance answered with an error status. */
export class ConsulHttpResponseError extends ConsulKitError {
  override readonly name = 'ConsulHttpResponseError';

  constructor(
    readonly service: string,
    readonly instance: string,
    readonly status: number,
    readonly body: unknown,
    method: string,
    path: string,
  ) {
    super(`${method} ${path} on service "${service}" (${instance}) answered HTTP ${status}`);
  }
}

/** No instance could be reached within the retry budget (connection refused, reset, timeout). */
export class ConsulHttpTransportError extends ConsulKitError {
  override readonly name = 'ConsulHttpTransportError';

  constructor(
    readonly service: string,
    readonly attempts: Array<{ instance: string; reason: string }>,
    method: string,
    path: string,
  ) {
    super(
      `${method} ${path} on service "${service}" failed after ${attempts.length} attempt(s): ` +
        attempts.map((a) => `${a.instance}: ${a.reason}`).join('; '),
    );
  }
}
