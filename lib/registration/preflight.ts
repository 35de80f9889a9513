import type { ConsulApi } from '../consul-api/consul-api.js';
import { ConsulRequestError } from '../consul-api/consul-request.error.js';
import { ConsulUnavailableError } from './consul-unavailable.error.js';

/**
 * `registration.failFast`: before registering anything, Consul must answer, have a leader and
 * accept the token, or bootstrap fails saying why (and only that). Not run by an app that
 * registers nothing: a gateway or a worker is not held back by a check of what it never does.
 */
export async function preflight(client: ConsulApi): Promise<void> {
  try {
    // quiet: no "Retrying in the background" warning, the bootstrap is about to fail.
    const leader = await client.leader(undefined, { quiet: true });
    if (!leader) throw new ConsulUnavailableError(client.address, 'the cluster has no leader');
    await client.verifyToken({ quiet: true });
  } catch (error) {
    if (!(error instanceof ConsulRequestError)) throw error;
    const cause = error.forbidden ? `the ACL token in consul.token was refused (${error.reason})` : error.reason;
    throw new ConsulUnavailableError(client.address, cause);
  }
}
