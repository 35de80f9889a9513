import type { Subscription } from 'rxjs';
import { ConsulDiscoveryService, type ConsulModuleOptions, type ServiceInstance } from '../../lib/index.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { CountingHttpProxy } from '../helpers/counting-proxy.js';
import { eventually } from '../helpers/eventually.js';
import { ttlInstance } from '../helpers/service-checks.js';

/** Watches through the agent's cache (`discovery.cache`), seen by a counting proxy in front of a real agent. */
describe('discovery.cache: watches read through the agent cache', () => {
  let agent: ConsulAgent;
  let proxy: CountingHttpProxy;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    agent = await ConsulAgent.start();
    proxy = await CountingHttpProxy.start(agent.httpPort);
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map(({ app }) => app.close()));
  });
  afterAll(async () => {
    await proxy?.stop();
    await agent?.stop();
  });

  async function discoveryWith(discovery: ConsulModuleOptions['discovery']): Promise<ConsulDiscoveryService> {
    const started = await startHttpApp({
      ...consulOptions(agent, { discovery: { wait: '10s', ...discovery } }),
      consul: { host: '127.0.0.1', port: proxy.port, timeout: '2s' },
    });
    apps.push(started);
    return started.app.get(ConsulDiscoveryService);
  }
  const requestsFor = (service: string) => proxy.requests.filter((r) => r.path === `/v1/health/service/${service}`);

  it('sends ?cached on every read, blocks on the index, and sees instances come, fail and go', async () => {
    const discovery = await discoveryWith({ cache: 'agent', consistency: 'stale' });
    await agent.register(ttlInstance('cached-1', 'cached_svc', 6101));
    const lists: string[][] = [];
    const subscription: Subscription = discovery
      .watch('cached_svc')
      .subscribe((list: ServiceInstance[]) => lists.push(list.map((i) => i.id)));
    try {
      await eventually(() => lists.at(-1)?.join() === 'cached-1', { what: 'the first list' });
      await agent.register(ttlInstance('cached-2', 'cached_svc', 6102));
      await eventually(() => lists.at(-1)?.join() === 'cached-1,cached-2', { what: 'the new instance' });
      await agent.ttl('service:cached-1', 'fail');
      await eventually(() => lists.at(-1)?.join() === 'cached-2', { what: 'the failing instance gone' });
      await agent.deregister('cached-2');
      await eventually(() => lists.at(-1)?.join() === '', { what: 'the empty list' });
      // The priming read, one blocking read per change seen, and the loop blocking again after the
      // last one. That read is sent after the empty list reaches us, so it is awaited, not assumed.
      await eventually(() => requestsFor('cached_svc').length >= 5, { what: 'the blocking read after the empty list' });
    } finally {
      subscription.unsubscribe();
    }
    const requests = requestsFor('cached_svc');
    expect(requests.length).toBeGreaterThanOrEqual(5);
    for (const request of requests) {
      expect(request.query.has('cached')).toBe(true);
      // Consul refuses cached with consistent; stale is moot (the agent's query is always stale).
      expect(request.query.has('consistent')).toBe(false);
      expect(request.query.has('stale')).toBe(false);
      expect(request.query.get('passing')).toBe('true');
    }
    const [priming, ...blocking] = requests;
    expect(priming.query.has('index')).toBe(false);
    for (const request of blocking) {
      expect(Number(request.query.get('index'))).toBeGreaterThan(0);
      expect(request.query.get('wait')).toBe('10s');
    }
  });

  it('keeps tags and filters through the cache', async () => {
    const discovery = await discoveryWith({ cache: 'agent' });
    await agent.register(ttlInstance('tagged-1', 'tagged_svc', 6201, { Tags: ['a', 'b'], Meta: { v: '2' } }));
    await agent.register(ttlInstance('tagged-2', 'tagged_svc', 6202, { Tags: ['a'], Meta: { v: '2' } }));
    await agent.register(ttlInstance('tagged-3', 'tagged_svc', 6203, { Tags: ['a', 'b'], Meta: { v: '1' } }));
    const list = await discovery.getInstances('tagged_svc', { tags: ['a', 'b'], filter: 'Service.Meta.v == "2"' });
    expect(list.map((i) => i.id)).toEqual(['tagged-1']);
    expect(requestsFor('tagged_svc').every((r) => r.query.has('cached'))).toBe(true);
  });

  it('sends no ?cached with cache "none", nor for a query sorted by `near`', async () => {
    await agent.register(ttlInstance('plain-1', 'plain_svc', 6301));
    const uncached = await discoveryWith({ cache: 'none', consistency: 'stale' });
    expect((await uncached.getInstances('plain_svc')).map((i) => i.id)).toEqual(['plain-1']);
    const plain = requestsFor('plain_svc');
    expect(plain.length).toBeGreaterThan(0);
    expect(plain.every((r) => !r.query.has('cached') && r.query.has('stale'))).toBe(true);

    const cached = await discoveryWith({ cache: 'agent' });
    expect((await cached.getInstances('plain_svc', { near: '_agent' })).map((i) => i.id)).toEqual(['plain-1']);
    const near = requestsFor('plain_svc').filter((r) => r.query.get('near') === '_agent');
    expect(near.length).toBeGreaterThan(0);
    expect(near.every((r) => !r.query.has('cached'))).toBe(true);
  });
});
