import { ConsulKitError } from '../common/consul-kit.error.js';
/** A Consul HTTP call that failed: the agent answered with an error, or could not be reached. */
export class ConsulRequestError extends ConsulKitError {
  override readonly name = 'ConsulRequestError';

  constructor(
    /** What we tried, e.g. `register service "user_api"`. */
    readonly action: string,
    /** The agent address (never includes the token). */
    readonly agent: string,
    /** HTTP status, or `undefined` when the agent was not reached. */
    readonly statusCode: number | undefined,
    /** Consul's own words, or the network error. */
    readonly reason: string,
  ) {
    super(`Consul at ${agent} could not ${action}: ${reason}${statusCode ? ` (HTTP ${statusCode})` : ''}`);
  }

  /** The agent was not reached at all (refused, reset, timed out, DNS). */
  get unreachable(): boolean {
    return this.statusCode === undefined;
  }

  /** The ACL token is missing, unknown or lacks a permission. */
  get forbidden(): boolean {
    return this.statusCode === 403 || this.statusCode === 401;
  }
}

/** Whether `error` is a request that never reached the agent (the client has already said so once). */
export function isUnreachable(error: unknown): boolean {
  return error instanceof ConsulRequestError && error.unreachable;
}
