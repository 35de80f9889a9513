import type { SessionDefinition } from './consul-api.types.js';
import type { ConsulConnection } from './consul-connection.js';
import { ConsulRequestError } from './consul-request.error.js';
import { preview } from './consul-transport.js';

/** `/v1/session`: the sessions locks hang on (create, renew, destroy). */
export class SessionEndpoints {
  constructor(private readonly connection: ConsulConnection) {}

  /** Creates a session on the agent's node; resolves its id. */
  async createSession(definition: SessionDefinition): Promise<string> {
    const action = `create session "${definition.Name}"`;
    const res = await this.connection.call({ action }, (o) =>
      this.connection.consul.session.create({
        ...o,
        name: definition.Name,
        ttl: definition.TTL,
        lockdelay: definition.LockDelay,
        behavior: definition.Behavior,
        checks: definition.Checks,
      }),
    );
    const id = (res.body as { ID?: unknown } | undefined)?.ID;
    if (typeof id !== 'string' || !id) {
      throw new ConsulRequestError(
        action,
        this.connection.address,
        res.statusCode,
        `expected a session ID, got ${preview(res.body)}`,
      );
    }
    return id;
  }

  /**
   * Renews a TTL session. Resolves false when Consul no longer knows it (expired, invalidated by a
   * check, destroyed): its locks are gone. `timeoutMs`: the renewal must not outlive the lease.
   */
  async renewSession(id: string, timeoutMs?: number): Promise<boolean> {
    const res = await this.connection.call({ action: `renew session "${id}"`, accept: [404], timeoutMs }, (o) =>
      this.connection.consul.session.renew({ ...o, id }),
    );
    return res.statusCode !== 404;
  }

  /** Destroys a session: Consul releases (or deletes, per its Behavior) every key it holds. */
  async destroySession(id: string, timeoutMs?: number): Promise<void> {
    await this.connection.call({ action: `destroy session "${id}"`, timeoutMs }, (o) =>
      this.connection.consul.session.destroy({ ...o, id }),
    );
  }
}
