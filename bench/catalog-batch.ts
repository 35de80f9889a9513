import type { ConsulAgent } from '../test/helpers/consul-agent.js';

/** Consul 1.8 takes at most 64 operations per transaction. */
const TXN_OPS = 64;
/** Transactions in flight at once. */
const PARALLEL = 4;

export interface CatalogInstance {
  id: string;
  name: string;
  port: number;
}

/**
 * Registers many instances on one external node (not an agent) through the catalog, in
 * transactions of 64: seconds instead of minutes for 10,000 one-by-one agent registrations.
 * The node and its instances have no check, so they are passing. No agent owns them, so
 * anti-entropy never removes them: {@link removeCatalogNode} does, with the node.
 */
export async function registerInCatalog(agent: ConsulAgent, node: string, instances: CatalogInstance[]): Promise<void> {
  await put(agent, '/v1/catalog/register', { Node: node, Address: '127.0.0.1' });
  const batches: CatalogInstance[][] = [];
  for (let i = 0; i < instances.length; i += TXN_OPS) batches.push(instances.slice(i, i + TXN_OPS));
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        await put(
          agent,
          '/v1/txn',
          batch.map(({ id, name, port }) => ({
            Service: { Verb: 'set', Node: node, Service: { ID: id, Service: name, Address: '127.0.0.1', Port: port } },
          })),
        );
      }
    }),
  );
}

/** Removes the node and every instance on it. */
export async function removeCatalogNode(agent: ConsulAgent, node: string): Promise<void> {
  await put(agent, '/v1/catalog/deregister', { Node: node });
}

async function put(agent: ConsulAgent, path: string, body: unknown): Promise<void> {
  const res = await agent.api(path, { method: 'PUT', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}
