import { type ConsulConnection, type RequestOptions } from './consul-connection.js';

/** The cluster as a whole: its leader, its datacenters, and whether it knows our ACL token. */
export class StatusEndpoints {
  constructor(private readonly connection: ConsulConnection) {}

  /** The leader's address, or `''` when the cluster has none. */
  async leader(timeoutMs?: number, options: RequestOptions = {}): Promise<string> {
    const res = await this.connection.call({ action: 'report its leader', timeoutMs, ...options }, (o) =>
      this.connection.consul.status.leader(o),
    );
    return typeof res.body === 'string' ? res.body : '';
  }

  /** Known datacenters, nearest first: the first is the agent's own. */
  async datacenters(): Promise<string[]> {
    const res = await this.connection.call({ action: 'list datacenters' }, (o) =>
      this.connection.consul.catalog.datacenters(o),
    );
    return Array.isArray(res.body) ? (res.body as string[]) : [];
  }

  /**
   * Checks the configured ACL token is known to Consul. Resolves when it is, or when
   * there is no token or ACLs are disabled; rejects with a 403 error when it is unknown.
   */
  async verifyToken(options: RequestOptions = {}): Promise<void> {
    if (!this.connection.options.token) return;
    // Direct: the package has no call for /acl/token/self (only bootstrap, replication, legacy).
    // 401: ACLs disabled, so any token is fine.
    await this.connection.direct({
      action: 'accept the ACL token',
      method: 'GET',
      path: '/acl/token/self',
      accept: [401],
      ...options,
    });
  }
}
