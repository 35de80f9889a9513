import type { ConsulAgent, HealthEntry } from './consul-agent.js';
import { eventually } from './eventually.js';

type Check = HealthEntry['Checks'][number];

/** A service instance on 127.0.0.1 with a TTL check (60 s, passing unless `check` says otherwise), as another app registers it. */
export function ttlInstance(
  id: string,
  name: string,
  port: number,
  extra: Record<string, unknown> = {},
  check: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ID: id,
    Name: name,
    Address: '127.0.0.1',
    Port: port,
    Check: { TTL: '60s', Status: 'passing', ...check },
    ...extra,
  };
}

/** The service's own check (not the node's) of the first catalog entry of `service`. */
export async function serviceCheck(agent: ConsulAgent, service: string): Promise<Check | undefined> {
  return (await agent.health(service))[0]?.Checks.find((c) => c.ServiceID);
}

/**
 * Waits until the first instance of `service` has its own check passing as Consul ran it, and
 * returns that check. The module registers a healthy app passing at once, before Consul's first
 * run: the output (empty until then) says Consul has run it.
 */
export function serviceCheckPassing(agent: ConsulAgent, service: string, what: string): Promise<Check> {
  return eventually(
    async () => {
      const c = await serviceCheck(agent, service);
      return c?.Status === 'passing' && c.Output !== '' && c;
    },
    { what },
  );
}

/** Waits until every check (node and service) of the first instance of `service` passes. */
export function allChecksPassing(agent: ConsulAgent, service: string, what: string): Promise<boolean> {
  return eventually(async () => (await agent.health(service))[0]?.Checks.every((c) => c.Status === 'passing'), {
    what,
  });
}
