import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { firstValueFrom, type Subscription } from 'rxjs';
import { RoundRobinBalancer } from '../balancing/round-robin.balancer.js';
import { ConsulKitUsageError } from '../common/consul-kit-usage.error.js';
import type { HealthServiceEntry } from '../consul-api/consul-api.types.js';
import { type ConsulModuleOptions, resolveConsulOptions } from '../core/consul-module.options.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';
import { ConsulOptionsError } from '../options/consul-options.error.js';
import type { DiscoveryQuery } from './discovery-query.js';
import { InstanceCache, type InstanceSource } from './instance-cache.js';
import { NoAvailableInstanceError } from './no-available-instance.error.js';

/** One registered instance of `service` in `dc`, as Consul's health endpoint lists it. */
const entry = (service: string, dc: string, id = `${service}-1`) =>
  ({
    Node: { Node: 'n1', Address: '10.0.0.1', Datacenter: dc },
    Service: { ID: id, Service: service, Address: '', Port: 80, Tags: [], Meta: {} },
    Checks: [],
  }) as unknown as HealthServiceEntry;

/**
 * Consul behind the loops' fetch: a read without an index answers at once with the instances
 * registered for its service and datacenter; a blocking read stays quiet until its loop stops.
 */
class FakeConsul implements InstanceSource {
  /** Instances by `service@dc` (local: `dc1`). */
  readonly registered = new Map<string, HealthServiceEntry[]>();
  readonly reads: Array<{
    service: string;
    dc?: string;
    tags?: readonly string[];
    index: number;
    signal?: AbortSignal;
  }> = [];
  readonly reachability = { onReconnect: () => () => undefined };

  readonly healthService: InstanceSource['healthService'] = (query, { index, signal }) => {
    this.reads.push({ service: query.service, dc: query.dc, tags: query.tags, index, signal });
    if (index === 0) {
      const entries = this.registered.get(`${query.service}@${query.dc ?? 'dc1'}`) ?? [];
      return Promise.resolve({ entries, index: 1 });
    }
    return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
  };

  readonly datacenters = () => Promise.resolve(['dc1', 'dc2', 'dc3']);

  /** The reads that started a loop (one per loop started). */
  firstReads(service?: string) {
    return this.reads.filter((read) => read.index === 0 && (service === undefined || read.service === service));
  }

  /** The blocking reads still held open: one per running loop. */
  get openBlockingReads() {
    return this.reads.filter((read) => read.index > 0 && !read.signal?.aborted).length;
  }
}

function setup(options: ConsulModuleOptions = {}) {
  const consul = new FakeConsul();
  const balancers = new Map<string, RoundRobinBalancer>();
  const balancerFor = (service: string) => {
    if (!balancers.has(service)) balancers.set(service, new RoundRobinBalancer());
    return balancers.get(service)!;
  };
  const resolved = resolveConsulOptions({ consul: { port: 1 }, ...options });
  const cache = new InstanceCache(consul, resolved.discovery, new ConsulMetrics(), balancerFor);
  return { consul, cache, balancerFor };
}

/** Lets every loop take its answers: the reads and the mapping run as microtasks. */
const settle = () => jest.advanceTimersByTimeAsync(0);

describe('InstanceCache', () => {
  beforeAll(() => Logger.overrideLogger(false)); // 'Watching …' on every loop start
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs one loop per distinct query, shared by every caller of it', async () => {
    const { consul, cache, balancerFor } = setup();
    consul.registered.set('billing@dc1', [entry('billing', 'dc1')]);
    const first = await cache.instances('billing', {}, 'getInstances');
    const again = await cache.instances('billing', {}, 'getInstances');
    const chosen = cache.cached('billing', {}, 'choose');
    const watched = await firstValueFrom(cache.watch('billing', {}));
    // The default spelled out, and the same tags in another order, are the same query.
    await cache.instances('billing', { passingOnly: true }, 'getInstances');
    await cache.instances('billing', { tags: ['b', 'a'] }, 'getInstances');
    await cache.instances('billing', { tags: ['a', 'b'] }, 'getInstances');
    await cache.instances('billing', { dc: 'dc2' }, 'getInstances');

    expect(cache.activeWatches).toBe(3);
    expect(consul.firstReads().map(({ dc, tags }) => ({ dc, tags }))).toEqual([
      { dc: undefined, tags: undefined },
      { dc: undefined, tags: ['b', 'a'] },
      { dc: 'dc2', tags: undefined },
    ]);
    // Every caller of the service-only query reads the one list that loop keeps.
    expect(again).toBe(first);
    expect(chosen).toBe(first);
    expect(watched).toBe(first);
    expect(first.map((instance) => instance.id)).toEqual(['billing-1']);
    // choose()'s hot path: the lease and the service's balancer, under the service's name.
    expect([...cache.plainLookups.keys()]).toEqual(['billing']);
    expect(cache.plainLookups.get('billing')!.balancer).toBe(balancerFor('billing'));
    cache.shutdown();
  });

  it('releases the loop of a lookup unused for a whole idle period, not one in use nor one watched', async () => {
    const { consul, cache } = setup({ discovery: { idleTimeout: '1m' } });
    await cache.instances('once', {}, 'getInstances');
    await cache.instances('busy', {}, 'getInstances');
    const subscription: Subscription = cache.watch('watched', {}).subscribe();
    await cache.instances('watched', {}, 'getInstances');
    await settle();
    expect(cache.activeWatches).toBe(3);

    // A lease goes after between one and two idle periods without a use; `busy` is used in each.
    for (let period = 0; period < 2; period++) {
      cache.cached('busy', {}, 'choose');
      await jest.advanceTimersByTimeAsync(60_000);
    }

    expect(cache.activeWatches).toBe(2);
    expect(consul.firstReads('once')[0].signal!.aborted).toBe(true);
    expect(consul.openBlockingReads).toBe(2); // busy's and watched's
    // Gone from the hot path too: the next lookup starts a new loop instead of reading a stopped one.
    expect([...cache.plainLookups.keys()].toSorted()).toEqual(['busy']);
    await cache.instances('once', {}, 'getInstances');
    expect(consul.firstReads('once')).toHaveLength(2);

    // The pinned lease of `watched` is gone; its subscriber still holds the loop, until it leaves.
    expect(cache.watchStats('watched', {})).toBeDefined();
    subscription.unsubscribe();
    expect(cache.watchStats('watched', {})).toBeUndefined();
    cache.shutdown();
  });

  it('stops every loop at shutdown, clears the idle timer, and refuses a lookup after it', async () => {
    const { consul, cache } = setup();
    await cache.instances('a', {}, 'getInstances');
    await cache.instances('b', { tags: ['x'] }, 'getInstances');
    const subscription = cache.watch('c', {}).subscribe();
    await settle();
    expect(consul.openBlockingReads).toBe(3);

    cache.shutdown();

    expect(cache.activeWatches).toBe(0);
    expect(consul.openBlockingReads).toBe(0);
    expect(cache.plainLookups.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
    const late = cache.instances('d', {}, 'getInstances');
    await expect(late).rejects.toThrow(ConsulKitUsageError);
    await expect(late).rejects.toThrow('discover before app.close()');
    expect(consul.firstReads('d')).toHaveLength(0);
    subscription.unsubscribe(); // after shutdown: harmless
    expect(cache.activeWatches).toBe(0);
  });

  describe('refuses an invalid query before it starts a watch, naming the call', () => {
    const bad = { tag: 'v2' } as DiscoveryQuery;
    const named = (call: string) => `Invalid ConsulDiscoveryService.${call}("billing", query) options:`;

    it.each([
      ['instances()', 'getInstances', (cache: InstanceCache) => cache.instances('billing', bad, 'getInstances')],
      [
        'availableInstances()',
        'getAvailableInstances',
        (cache: InstanceCache) => cache.availableInstances('billing', bad, 'getAvailableInstances'),
      ],
      [
        'cached()',
        'choose',
        (cache: InstanceCache) => Promise.resolve().then(() => cache.cached('billing', bad, 'choose')),
      ],
      // choose() and lease() checked the query already, as getInstances() checks it again here.
      ['acrossDatacenters()', 'getInstances', (cache: InstanceCache) => cache.acrossDatacenters('billing', bad)],
      ['watch()', 'watch', (cache: InstanceCache) => firstValueFrom(cache.watch('billing', bad))],
      [
        'watchStats()',
        'watchStats',
        (cache: InstanceCache) => Promise.resolve().then(() => cache.watchStats('billing', bad)),
      ],
    ])('%s names %s()', async (_method, call, run) => {
      const { consul, cache } = setup();
      // A service-only lookup of the same service first: its fast path must not let the bad query through.
      await cache.instances('billing', {}, 'getInstances');
      const result = run(cache);
      await expect(result).rejects.toThrow(ConsulOptionsError);
      await expect(result).rejects.toThrow(`${named(call)}\n  - query.tag: is not an option; did you mean query.tags?`);
      expect(cache.activeWatches).toBe(1);
      expect(consul.firstReads()).toHaveLength(1);
      cache.shutdown();
    });
  });

  describe('across datacenters', () => {
    it('tries the local datacenter, then each failover datacenter in order', async () => {
      const { consul, cache } = setup({ discovery: { failoverDatacenters: ['dc2', 'dc3'] } });
      consul.registered.set('billing@dc3', [entry('billing', 'dc3')]);
      const instances = await cache.acrossDatacenters('billing', {});
      expect(instances.map((instance) => instance.dc)).toEqual(['dc3']);
      expect(consul.firstReads().map((read) => read.dc)).toEqual([undefined, 'dc2', 'dc3']);
      cache.shutdown();
    });

    it('names every datacenter it tried when none has an instance; a query.dc is the only one tried', async () => {
      const { cache } = setup({ discovery: { failoverDatacenters: ['dc2'] } });
      await expect(cache.acrossDatacenters('billing', { tags: ['v2'] })).rejects.toThrow(
        new NoAvailableInstanceError('billing', ['the local datacenter', 'dc2'], ['v2']),
      );
      await expect(cache.acrossDatacenters('billing', { dc: 'dc3' })).rejects.toThrow(
        new NoAvailableInstanceError('billing', ['dc3']),
      );
      cache.shutdown();
    });
  });
});
