import { ConsulKitError } from '../../common/consul-kit.error.js';

// "Upstream": the discovered service a typed client calls, never Consul itself (Consul's own
// failures are ConsulRequestError). The name says which side failed.

/** An instance of the called service answered with an error status. */
export class UpstreamHttpResponseError extends ConsulKitError {
  override readonly name = 'UpstreamHttpResponseError';

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

/** No instance of the called service could be reached within the retry budget (connection refused, reset, timeout). */
export class UpstreamHttpTransportError extends ConsulKitError {
  override readonly name = 'UpstreamHttpTransportError';

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
