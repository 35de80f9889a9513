import { getEventListeners } from 'node:events';
import type { Subscription } from 'rxjs';
import { ConsulApi } from '../../lib/consul-api/consul-api.js';
import { resolveConsulOptions } from '../../lib/core/consul-module.options.js';
import { ConsulDiscoveryService, NoAvailableInstanceError, type ServiceInstance } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp } from '../helpers/consul-app.js';
import { CountingHttpProxy } from '../helpers/counting-proxy.js';
import { eventually } from '../helpers/eventually.js';
import { ttlInstance as ttlInstanceOf } from '../helpers/service-checks.js';

const ttlInstance = (id: string, port: number, extra: Record<string, unknown> = {}) =>
  ttlInstanceOf(id, 'user_service', port, extra, { CheckID: `service:${id}` });

describe('ConsulDiscoveryService (real Consul agent)', () => {
  const suite = useConsulAgent();
  let agent: ConsulAgent;
  let discovery: ConsulDiscoveryService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    agent = suite.agent;
    await agent.register(
      ttlInstance('us-1', 5001, {
        Tags: ['user', 'primary'],
        Meta: { zone: 'a' },
        Weights: { Passing: 3, Warning: 1 },
      }),
    );
    await agent.register(ttlInstance('us-2', 5002, { Tags: ['user'] }));
    const started = await startHttpApp(
      consulOptions(agent, { service: { name: 'discoverer' }, registration: { enabled: false } }),
    );
    close = () => started.app.close(); // not per test: every test here uses this app
    discovery = started.app.get(ConsulDiscoveryService);
  });
  afterAll(() => close?.());

  it('lists registered instances with their tags, meta, weights, datacenter and node', async () => {
    const instances = await discovery.getInstances('user_service');
    expect(instances.map((i) => i.id)).toEqual(['us-1', 'us-2']);
    expect(instances[0]).toMatchObject({
      service: 'user_service',
      address: '127.0.0.1',
      port: 5001,
      tags: ['user', 'primary'],
      meta: { zone: 'a' },
      weights: { passing: 3, warning: 1 },
      dc: 'dc1',
      status: 'passing',
    });
    expect(instances[0].node).toMatch(/^test-/);
    expect((await discovery.getInstances('user_service', { tags: ['primary'] })).map((i) => i.id)).toEqual(['us-1']);
    expect(
      (await discovery.getInstances('user_service', { filter: 'Service.Meta.zone == "a"' })).map((i) => i.id),
    ).toEqual(['us-1']);
  });

  it('drops an instance whose check fails within 1 s, and brings it back when it passes', async () => {
    const lists: Array<{ at: number; ids: string[] }> = [];
    const subscription = discovery
      .watch('user_service')
      .subscribe((instances) => lists.push({ at: Date.now(), ids: instances.map((i) => i.id) }));
    try {
      await eventually(() => lists.length > 0, { what: 'the first list' });
      expect(lists[0].ids).toEqual(['us-1', 'us-2']);

      const failedAt = Date.now();
      await agent.ttl('service:us-2', 'fail');
      const dropped = await eventually(() => lists.find((l) => l.ids.join() === 'us-1'), {
        timeoutMs: 1_000,
        what: 'us-2 to drop',
      });
      const passedAt = Date.now();
      await agent.ttl('service:us-2', 'pass');
      const back = await eventually(() => lists.find((l) => l.at >= passedAt && l.ids.join() === 'us-1,us-2'), {
        timeoutMs: 1_000,
        what: 'us-2 to come back',
      });
      expect(dropped.at - failedAt).toBeLessThan(1_000);
      expect(back.at - passedAt).toBeLessThan(1_000);
      // Only real changes are emitted: initial, dropped, back.
      expect(lists.map((l) => l.ids.join())).toEqual(['us-1,us-2', 'us-1', 'us-1,us-2']);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('chooses from the cache and throws NoAvailableInstanceError naming the service when none passes', async () => {
    const chosen = new Set<string>();
    for (let i = 0; i < 20; i++) chosen.add((await discovery.choose('user_service')).id);
    expect([...chosen].toSorted()).toEqual(['us-1', 'us-2']);

    const error = await discovery.choose('nobody_home', { tags: ['x'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoAvailableInstanceError);
    expect((error as Error).message).toBe(
      'No available instance of service "nobody_home" in the local datacenter with tags x: none is registered and passing its checks',
    );
  });

  it('lease() holds an instance for least-outstanding until released; choose() alone counts nothing', async () => {
    const started = await startHttpApp(consulOptions(agent, { discovery: { loadBalancer: 'least-outstanding' } }));
    try {
      const lo = started.app.get(ConsulDiscoveryService);
      const held = await lo.lease('user_service');
      const other = held.instance.id === 'us-1' ? 'us-2' : 'us-1';
      const during = new Set<string>();
      for (let i = 0; i < 50; i++) during.add((await lo.choose('user_service')).id);
      expect([...during]).toEqual([other]); // choose() picks around the call in flight, and adds none

      held.release();
      held.release(); // idempotent: the count does not go below zero
      const after = new Set<string>();
      for (let i = 0; i < 50; i++) {
        const lease = await lo.lease('user_service');
        after.add(lease.instance.id);
        lease.release();
      }
      expect([...after].toSorted()).toEqual(['us-1', 'us-2']);
    } finally {
      await started.app.close();
    }
  });

  it('stops watching a query nobody looked up for discovery.idleTimeout; a watch() subscriber keeps its loop', async () => {
    const started = await startHttpApp(consulOptions(agent, { discovery: { idleTimeout: '1s' } }));
    try {
      const idle = started.app.get(ConsulDiscoveryService);
      expect(await idle.getInstances('user_service')).toHaveLength(2);
      await idle.getInstances('user_service', { tags: ['primary'] }); // a one-off lookup
      expect(idle.activeWatches).toBe(2);
      // In use every 200 ms for 3 s: the plain query stays watched, the one-off one goes.
      for (let i = 0; i < 15; i++) {
        await idle.choose('user_service');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(idle.watchStats('user_service')).toBeDefined();
      expect(idle.watchStats('user_service', { tags: ['primary'] })).toBeUndefined();
      expect(idle.activeWatches).toBe(1);

      const subscription = idle.watch('user_service').subscribe();
      await eventually(() => idle.activeWatches === 1, { what: 'one loop' });
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // idle, but subscribed
      expect(idle.activeWatches).toBe(1);
      subscription.unsubscribe();
      expect(idle.activeWatches).toBe(0);
      // Looked up again: a new loop, and the answer.
      expect(await idle.getInstances('user_service')).toHaveLength(2);
      expect(idle.activeWatches).toBe(1);
    } finally {
      await started.app.close();
    }
  });

  it('returns the same instances through DNS as through HTTP', async () => {
    const viaHttp = (await discovery.getInstances('user_service')).map((i) => `${i.address}:${i.port}`).toSorted();
    const viaDns = (await discovery.resolveDns('user_service')).map((i) => `${i.address}:${i.port}`).toSorted();
    expect(viaDns).toEqual(viaHttp);
  });

  it('runs with consul.host "localhost": the agent and its DNS interface are reached by name', async () => {
    const byName = consulOptions(agent, { service: { name: 'by_name' } });
    const started = await startHttpApp({
      ...byName,
      consul: { ...byName.consul, host: 'localhost' },
      // DNS defaults to consul.host: only the port is the test agent's own.
      discovery: { dns: { port: agent.ports.dns } },
    });
    try {
      await eventually(async () => (await agent.health('by_name')).length === 1, { what: 'by_name registered' });
      const viaDns = await started.app.get(ConsulDiscoveryService).resolveDns('user_service');
      expect(viaDns.map((i) => `${i.address}:${i.port}`).toSorted()).toEqual(['127.0.0.1:5001', '127.0.0.1:5002']);
    } finally {
      await started.app.close();
    }
  });
});

describe('watch loops: shared, cheap, and resilient (real Consul agent behind a counting proxy)', () => {
  let agent: ConsulAgent;
  let proxy: CountingHttpProxy;
  let discovery: ConsulDiscoveryService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    agent = await ConsulAgent.start();
    proxy = await CountingHttpProxy.start(agent.httpPort);
    await agent.register(ttlInstance('w-1', 6001));
    const started = await startHttpApp({
      ...consulOptions(agent, { service: { name: 'watcher' }, registration: { enabled: false } }),
      consul: { host: '127.0.0.1', port: proxy.port, timeout: '2s' },
      discovery: { wait: '10s' },
    });
    discovery = started.app.get(ConsulDiscoveryService);
    close = () => started.app.close();
  });
  afterAll(async () => {
    await close?.();
    await proxy?.stop();
    await agent?.stop();
  });

  it('runs one loop for many subscribers of the same query, and stops it after the last unsubscribes', async () => {
    const before = proxy.count('/v1/health/service/user_service');
    const subscriptions: Subscription[] = [];
    const firsts = Array.from({ length: 5 }, () => {
      const seen = new Promise<ServiceInstance[]>((resolve) =>
        subscriptions.push(discovery.watch('user_service').subscribe(resolve)),
      );
      return seen;
    });
    await Promise.all(firsts);
    expect(discovery.activeWatches).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The priming read plus one blocking read in flight: 2 requests for 5 subscribers.
    expect(proxy.count('/v1/health/service/user_service') - before).toBe(2);

    subscriptions.forEach((s) => s.unsubscribe());
    expect(discovery.activeWatches).toBe(0);
  });

  it('answers choose() from the cache: 10,000 picks send no request to Consul', async () => {
    await discovery.choose('user_service'); // the first use primes the watch
    const before = proxy.requests.length;
    for (let i = 0; i < 10_000; i++) await discovery.choose('user_service');
    expect(proxy.requests.length).toBe(before);
  });

  it('leaves no listener behind on the signal a watch loop shares across its requests', async () => {
    const client = new ConsulApi(
      resolveConsulOptions({ consul: { host: '127.0.0.1', port: agent.httpPort, timeout: '2s' } }).consul,
    );
    const lifetime = new AbortController();
    try {
      for (let i = 0; i < 50; i++)
        await client.healthService({ service: 'user_service' }, { index: 0, waitMs: 1_000, signal: lifetime.signal });
      expect(getEventListeners(lifetime.signal, 'abort')).toHaveLength(0);
    } finally {
      client.close();
    }
  });

  it('sends a blocking request with the last index and never index 0', async () => {
    const subscription = discovery.watch('user_service', { tags: ['blocking'] }).subscribe();
    await eventually(() => proxy.requests.filter((r) => r.query.getAll('tag').includes('blocking')).length >= 2, {
      what: 'a blocking request',
    });
    subscription.unsubscribe();
    const [priming, blocking] = proxy.requests.filter((r) => r.query.getAll('tag').includes('blocking'));
    expect(priming.query.has('index')).toBe(false);
    expect(Number(blocking.query.get('index'))).toBeGreaterThan(0);
    expect(blocking.query.get('wait')).toBe('10s');
  });

  it('keeps the last list while the agent is down and resyncs after it comes back', async () => {
    const lists: string[][] = [];
    const subscription = discovery.watch('user_service').subscribe((list) => lists.push(list.map((i) => i.id)));
    try {
      await eventually(() => lists.length === 1, { what: 'the first list' });
      await agent.stop();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect((await discovery.getInstances('user_service')).map((i) => i.id)).toEqual(['w-1']); // last good list
      expect(lists).toEqual([['w-1']]);

      await agent.launch(); // empty state: w-1 is gone, w-2 is new
      await agent.register(ttlInstance('w-2', 6002));
      await eventually(() => lists.at(-1)?.join() === 'w-2', { timeoutMs: 10_000, what: 'the resynced list' });
    } finally {
      subscription.unsubscribe();
    }
  });
});

describe('multi-datacenter failover (two real agents joined over WAN)', () => {
  let dc1: ConsulAgent;
  let dc2: ConsulAgent;
  let close: () => Promise<void>;
  let discovery: ConsulDiscoveryService;

  beforeAll(async () => {
    [dc1, dc2] = await Promise.all([
      ConsulAgent.start({ datacenter: 'dc1' }),
      ConsulAgent.start({ datacenter: 'dc2' }),
    ]);
    await dc1.joinWan(dc2);
    await eventually(async () => (await dc1.json<string[]>('/v1/catalog/datacenters')).length === 2, {
      what: 'WAN join',
    });
    await dc2.register({ ...ttlInstance('remote-1', 7001), Name: 'billing' });
    const started = await startHttpApp({
      ...consulOptions(dc1, { service: { name: 'caller' }, registration: { enabled: false } }),
      discovery: { failoverDatacenters: ['dc2'] },
    });
    discovery = started.app.get(ConsulDiscoveryService);
    close = () => started.app.close();
  });
  afterAll(async () => {
    await close?.();
    await Promise.all([dc1?.stop(), dc2?.stop()]);
  });

  it('falls over to the next datacenter that has a passing instance, and says so in the instance', async () => {
    const chosen = await eventually(() => discovery.choose('billing').catch(() => undefined), {
      what: 'a remote instance',
    });
    expect(chosen).toMatchObject({ id: 'remote-1', dc: 'dc2', port: 7001 });
    expect(await discovery.getInstances('billing')).toEqual([]); // none locally

    await dc1.register({ ...ttlInstance('local-1', 7002), Name: 'billing' });
    const local = await eventually(
      async () => {
        const instance = await discovery.choose('billing');
        return instance.dc === 'dc1' && instance;
      },
      { what: 'the local instance to win' },
    );
    expect(local.id).toBe('local-1');
  });

  it('looks up a datacenter explicitly', async () => {
    expect((await discovery.getInstances('billing', { dc: 'dc2' })).map((i) => `${i.id}@${i.dc}`)).toEqual([
      'remote-1@dc2',
    ]);
  });
});
