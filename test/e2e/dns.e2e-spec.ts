import { ConsulDnsError, ConsulDnsResolver } from '../../lib/discovery/consul-dns.resolver.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-ports.js';
import { ttlInstance } from '../helpers/service-checks.js';

const instances = [
  { ID: 'dns-us-1', Port: 5001, Tags: ['user'], Status: 'passing' },
  { ID: 'dns-us-2', Port: 5002, Tags: ['user', 'canary'], Status: 'passing' },
  { ID: 'dns-us-3', Port: 5003, Tags: ['user'], Status: 'critical' },
];

const endpoints = (list: Array<{ address: string; port: number }>) =>
  list.map(({ address, port }) => `${address}:${port}`).toSorted();

describe('ConsulDnsResolver (real Consul agent DNS interface)', () => {
  let agent: ConsulAgent | undefined;
  let resolver: ConsulDnsResolver;

  beforeAll(async () => {
    agent = await ConsulAgent.start();
    for (const { ID, Port, Tags, Status } of instances) {
      await agent.register(ttlInstance(ID, 'user_service', Port, { Tags }, { TTL: '30s', Status }));
    }
    // DNS answers come from the catalog, which the agent fills by anti-entropy sync, not at once.
    const ready = agent;
    await eventually(async () => (await ready.health('user_service')).length === instances.length, {
      timeoutMs: 20_000,
      what: 'all user_service instances in the catalog',
    });
    resolver = new ConsulDnsResolver({ host: '127.0.0.1', port: agent.ports.dns });
  });

  afterAll(async () => {
    if (!agent) return;
    try {
      for (const { ID } of instances) await agent.deregister(ID);
    } finally {
      await agent.stop();
    }
  });

  it('returns only the passing instances, the same ones the HTTP health API returns', async () => {
    const viaDns = await resolver.resolve('user_service');
    expect(viaDns).toHaveLength(2);
    expect(viaDns.every((instance) => instance.address === '127.0.0.1')).toBe(true);
    expect(viaDns.map((instance) => instance.port).toSorted()).toEqual([5001, 5002]);

    const passing = await agent!.json<Array<{ Node: { Address: string }; Service: { Address: string; Port: number } }>>(
      '/v1/health/service/user_service?passing',
    );
    const viaHttp = passing.map(({ Node, Service }) => ({
      address: Service.Address || Node.Address,
      port: Service.Port,
    }));
    expect(endpoints(viaDns)).toEqual(endpoints(viaHttp));
    expect(endpoints(viaDns)).toEqual(['127.0.0.1:5001', '127.0.0.1:5002']);
  });

  it('gives stable output with SRV targets ending in the consul domain', async () => {
    const first = await resolver.resolve('user_service');
    const second = await resolver.resolve('user_service');
    expect(second).toEqual(first);
    for (const instance of first) {
      expect(instance.target).toMatch(/\.dc1\.consul$/);
      expect(instance.priority).toEqual(expect.any(Number));
      expect(instance.weight).toEqual(expect.any(Number));
    }
  });

  it('filters by tag', async () => {
    const canary = await resolver.resolve('user_service', { tag: 'canary' });
    expect(endpoints(canary)).toEqual(['127.0.0.1:5002']);
  });

  it('queries an explicit datacenter', async () => {
    const inDc1 = await resolver.resolve('user_service', { dc: 'dc1' });
    expect(endpoints(inDc1)).toEqual(['127.0.0.1:5001', '127.0.0.1:5002']);
  });

  it('returns an empty list for an unknown service', async () => {
    await expect(resolver.resolve('no_such_service')).resolves.toEqual([]);
  });

  it('rejects with ConsulDnsError naming the server and the query when nothing answers', async () => {
    const port = await freePort();
    const silent = new ConsulDnsResolver({ host: '127.0.0.1', port }, { timeoutMs: 300 });
    const failure = silent.resolve('user_service');
    await expect(failure).rejects.toBeInstanceOf(ConsulDnsError);
    await expect(failure).rejects.toThrow(`127.0.0.1:${port}`);
    await expect(failure).rejects.toThrow('user_service.service.consul');
  });

  it('accepts a hostname for the DNS server, looked up at the first query, not at construction', async () => {
    const byName = new ConsulDnsResolver({ host: 'localhost', port: agent!.ports.dns });
    expect(endpoints(await byName.resolve('user_service'))).toEqual(['127.0.0.1:5001', '127.0.0.1:5002']);
  });

  it('names discovery.dns.host when the DNS server name does not resolve, and tries again on the next query', async () => {
    const unknown = new ConsulDnsResolver({ host: 'no-such-host.invalid', port: agent!.ports.dns });
    for (let attempt = 0; attempt < 2; attempt++) {
      const failure = unknown.resolve('user_service');
      await expect(failure).rejects.toBeInstanceOf(ConsulDnsError);
      await expect(failure).rejects.toThrow('discovery.dns.host "no-such-host.invalid" does not resolve');
    }
  });

  it('rejects an invalid service name before querying, naming it', async () => {
    await expect(resolver.resolve('bad name')).rejects.toThrow('"bad name"');
    await expect(resolver.resolve('bad name')).rejects.toBeInstanceOf(ConsulDnsError);
  });
});
