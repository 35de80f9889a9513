import type { AgentService, AgentServiceRegistration, CheckStatus } from './consul-api.types.js';
import { type ConsulConnection, filterLiteral, type RequestOptions, urlSegment } from './consul-connection.js';
import { ConsulRequestError } from './consul-request.error.js';
import { bodyText, preview } from './consul-transport.js';

/** `/v1/agent`: this app's registration on its agent (register, read, maintenance, TTL checks). */
export class AgentEndpoints {
  constructor(private readonly connection: ConsulConnection) {}

  async registerService(definition: AgentServiceRegistration, options: RequestOptions = {}): Promise<void> {
    // Direct: the package's agent.service.register rebuilds the definition without
    // EnableTagOverride and Weights, and cannot ask to replace the existing checks.
    await this.connection.direct({
      action: `register service "${definition.Name}" (id "${definition.ID}")`,
      method: 'PUT',
      path: '/agent/service/register',
      query: { 'replace-existing-checks': 'true' },
      json: definition,
      ...options,
    });
  }

  async deregisterService(id: string, options: RequestOptions = {}): Promise<void> {
    await this.connection.call({ action: `deregister service id "${id}"`, ...options }, (o) =>
      this.connection.consul.agent.service.deregister({ ...o, id }),
    );
  }

  /** The agent's local registration of `id`, or `undefined` when the agent does not know it. */
  async agentService(id: string, options: RequestOptions = {}): Promise<AgentService | undefined> {
    const action = `read service id "${id}"`;
    // The package would send such an id mangled (U+FFFD) in the filter, and never find it in the answer.
    urlSegment(id, `service id "${id}"`);
    // The package has no call for /agent/service/:id; the agent's list, filtered to that id, says
    // the same (an id no filter can spell gets the whole list, looked up the same way).
    const literal = filterLiteral(id);
    const res = await this.connection.call({ action, ...options }, (o) =>
      this.connection.consul.agent.service.list({ ...o, ...(literal ? { filter: `ID == ${literal}` } : {}) }),
    );
    const services = res.body;
    if (typeof services !== 'object' || services === null || Array.isArray(services) || Buffer.isBuffer(services)) {
      throw new ConsulRequestError(
        action,
        this.connection.address,
        res.statusCode,
        `expected a JSON object, got ${preview(services)}`,
      );
    }
    return (services as Record<string, AgentService | undefined>)[id];
  }

  async setServiceMaintenance(
    id: string,
    enable: boolean,
    reason?: string,
    options: RequestOptions = {},
  ): Promise<void> {
    await this.connection.call(
      { action: `${enable ? 'enable' : 'disable'} maintenance of service id "${id}"`, ...options },
      (o) => this.connection.consul.agent.service.maintenance({ ...o, id, enable, ...(reason ? { reason } : {}) }),
    );
  }

  /**
   * Reports a TTL check's status. Resolves `false` when the agent does not know the check
   * (it forgot the service), so the caller can re-register.
   */
  async updateTtlCheck(
    checkId: string,
    status: CheckStatus,
    output: string,
    options: RequestOptions = {},
  ): Promise<boolean> {
    const action = `update check "${checkId}"`;
    // pass/warn/fail with a note: the same update as /agent/check/update with an Output, and the
    // same answers when the agent does not know the check.
    const res = await this.connection.call(
      // Consul 1.8 answers an unknown check with 500 "Unknown check"; newer ones with 404.
      { action, accept: [404, 500], ...options },
      (o) => this.connection.consul.agent.check[TTL_CALL[status]]({ ...o, id: checkId, note: output }),
    );
    if (res.statusCode === 404) return false;
    if (res.statusCode === 500) {
      const reason = bodyText(res.body);
      if (/unknown check|does not have associated ttl|not found/i.test(reason)) return false;
      throw new ConsulRequestError(action, this.connection.address, 500, reason);
    }
    return true;
  }
}

const TTL_CALL = { passing: 'pass', warning: 'warn', critical: 'fail' } as const;
