import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Observable } from 'rxjs';
import { createLoadBalancer } from '../balancing/create-load-balancer.js';
import { acquireLease, type Lease, type LoadBalancer } from '../balancing/load-balancer.js';
import { ConsulApi } from '../consul-api/consul-api.js';
import type { HealthServiceEntry } from '../consul-api/consul-api.types.js';
import { LOG_CONTEXT } from '../consul.constants.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { BlockingQueryLoop } from '../watch/blocking-query.loop.js';
import { FirstReadGate } from '../watch/first-read-gate.js';
import { type IdleLease, IdleLeases } from '../watch/idle-leases.js';
import { WatchRegistry } from '../watch/watch-registry.js';
import { ConsulDnsResolver, type DnsInstance, type DnsLookupOptions } from './consul-dns.resolver.js';
import { type DiscoveryQuery, discoveryQueryError } from './discovery-query.js';
import { sameInstances, type StringPool, toServiceInstance } from './instance-mapper.js';
import { NoAvailableInstanceError } from './no-available-instance.error.js';
import type { ServiceInstance } from '../common/service-instance.js';
import type { ConsulMetrics } from '../observability/consul-metrics.js';
import { ConsulKitUsageError } from '../common/consul-kit-usage.error.js';

export type { DiscoveryQuery } from './discovery-query.js';

type InstanceLoop = BlockingQueryLoop<ServiceInstance[]>;

/**
 * How many watches' first reads (whole lists, answered at once) may be in flight together: their
 * bodies land in the C heap, which glibc keeps, so many at once leave it larger for good. 32 kept
 * it smaller than 64, 16 no smaller than 32 (bench/results.md, notes). Fewer watches never wait.
 */
const FIRST_READS_AT_ONCE = 32;

/**
 * Instances of other services, from a cache fed by Consul blocking queries: one loop per
 * distinct query, shared by every caller, so `choose()` and `getInstances()` never wait on
 * the network once a service has been seen.
 */
export class ConsulDiscoveryService implements OnApplicationShutdown {
  private readonly logger = new Logger(LOG_CONTEXT.discovery);
  private readonly registry = new WatchRegistry<InstanceLoop>();
  /** Leases for `getInstances()`/`choose()` callers, who never say they are done: released when idle. */
  private readonly pinned: IdleLeases<InstanceLoop>;
  private readonly balancers = new Map<string, LoadBalancer>();
  /**
   * Service-only queries by service name: their lease, and the service's balancer beside it, so
   * the hot path of `choose()` is one Map lookup: a second one showed in its CPU profiles.
   */
  private readonly plainLookups = new Map<string, { lease: IdleLease<InstanceLoop>; balancer: LoadBalancer }>();
  private readonly dnsResolver: ConsulDnsResolver;
  /** Shared by every watch of this app: caps the first reads, never the blocking ones (each holds its connection for minutes). */
  private readonly firstReads = new FirstReadGate(FIRST_READS_AT_ONCE);
  private localDc?: Promise<string | undefined>;
  private shutDown = false;

  /** @internal Nest builds it; inject it instead. */
  constructor(
    private readonly client: ConsulApi,
    private readonly options: ResolvedConsulOptions,
    /** The app's: its watches and failed lookups are reported there. */
    private readonly metrics: ConsulMetrics,
  ) {
    this.dnsResolver = new ConsulDnsResolver(options.discovery.dns, { timeoutMs: options.consul.timeoutMs });
    this.pinned = new IdleLeases(this.registry, options.discovery.idleTimeoutMs, (lease) => {
      for (const [service, plain] of this.plainLookups) if (plain.lease === lease) this.plainLookups.delete(service);
    });
  }

  /** The current instances (the first call for a query waits for Consul's first answer). */
  getInstances(service: string, query: DiscoveryQuery = {}): Promise<ServiceInstance[]> {
    let loop: InstanceLoop;
    try {
      loop = this.pinnedLoop(service, query, 'getInstances');
    } catch (error) {
      return Promise.reject(error);
    }
    const current = loop.current;
    return current ? Promise.resolve(current) : loop.ready();
  }

  /** The current instances; rejects with {@link NoAvailableInstanceError} (naming service, datacenter, tags) when there are none. */
  async getAvailableInstances(service: string, query: DiscoveryQuery = {}): Promise<ServiceInstance[]> {
    const invalid = discoveryQueryError('getAvailableInstances', service, query);
    if (invalid) throw invalid;
    const instances = await this.getInstances(service, query);
    if (instances.length === 0) throw noAvailableInstance(this.metrics, service, [query.dc], query.tags);
    return instances;
  }

  /**
   * One instance, picked by the service's load balancer from the cache. When the datacenter
   * (local, unless `query.dc`) has none, tries `discovery.failoverDatacenters` in order; the
   * instance's `dc` says where it came from.
   *
   * A choice only: the balancer does not count a call to it. To make `least-outstanding` see
   * your calls, take a {@link lease} instead and release it when the call ends.
   */
  choose(service: string, query: DiscoveryQuery = {}): Promise<ServiceInstance> {
    // Hot path: a service-only query whose list is cached and not empty. One Map lookup (the
    // lease and the balancer are kept together), no await, no failover walk, no allocation but the promise.
    // Written out here rather than through pinnedLoop(), which getInstances() and lease() share:
    // the extra call is measurable at millions of choose() a second.
    const known = isEmptyQuery(query) ? this.plainLookups.get(service) : undefined;
    if (known !== undefined && !known.lease.loop.stopped) {
      known.lease.used = true;
      const cached = known.lease.loop.current;
      if (cached !== undefined && cached.length > 0) return Promise.resolve(known.balancer.pick(cached));
    }
    return this.chooseAnyhow(service, query);
  }

  /** `choose()` off its hot path: the first lookup, another query, an empty list, failover. */
  private chooseAnyhow(service: string, query: DiscoveryQuery): Promise<ServiceInstance> {
    let cached: ServiceInstance[] | undefined;
    try {
      cached = this.pinnedLoop(service, query, 'choose').current;
    } catch (error) {
      return Promise.reject(error);
    }
    if (cached && cached.length > 0) return Promise.resolve(this.balancerFor(service).pick(cached));
    return this.instancesAcrossDatacenters(service, query).then((instances) =>
      this.balancerFor(service).pick(instances),
    );
  }

  /**
   * Like {@link choose}, and the balancer counts a call on the instance until you release the
   * lease: call `release()` when your call ends, however it ends (it is idempotent).
   *
   * ```ts
   * const lease = await discovery.lease('billing');
   * try {
   *   await fetch(`http://${lease.instance.address}:${lease.instance.port}/invoices`);
   * } finally {
   *   lease.release();
   * }
   * ```
   */
  lease(service: string, query: DiscoveryQuery = {}): Promise<Lease> {
    let cached: ServiceInstance[] | undefined;
    try {
      cached = this.pinnedLoop(service, query, 'lease').current;
    } catch (error) {
      return Promise.reject(error);
    }
    if (cached && cached.length > 0) return Promise.resolve(acquireLease(this.balancerFor(service), cached));
    return this.instancesAcrossDatacenters(service, query).then((instances) =>
      acquireLease(this.balancerFor(service), instances),
    );
  }

  /** The first non-empty list of the datacenters `choose()` may use, in order. */
  private async instancesAcrossDatacenters(service: string, query: DiscoveryQuery): Promise<ServiceInstance[]> {
    const datacenters = query.dc ? [query.dc] : [undefined, ...this.options.discovery.failoverDatacenters];
    for (const dc of datacenters) {
      const instances = await this.getInstances(service, dc === query.dc ? query : { ...query, dc });
      if (instances.length > 0) return instances;
    }
    throw noAvailableInstance(this.metrics, service, datacenters, query.tags);
  }

  /**
   * Instance lists as they change: the current list at once, then one emission per real change.
   * The watch loop is shared, and stops when its last subscriber unsubscribes.
   */
  watch(service: string, query: DiscoveryQuery = {}): Observable<ServiceInstance[]> {
    return new Observable<ServiceInstance[]>((subscriber) => {
      const lease = this.registry.acquire(this.keyOf(service, query, 'watch'), () => this.createLoop(service, query));
      const stopListening = lease.loop.onChange((instances) => subscriber.next(instances));
      const current = lease.loop.current;
      if (current) subscriber.next(current);
      return () => {
        stopListening();
        lease.release();
      };
    });
  }

  /** The tutorial's way: Consul's DNS interface (SRV for ports, A/AAAA for addresses). Passing instances only. */
  resolveDns(service: string, options: DnsLookupOptions = {}): Promise<DnsInstance[]> {
    return this.dnsResolver.resolve(service, options);
  }

  /**
   * How many watch loops run: one per distinct query in use. Internal, for tests:
   * `ConsulStatusService.snapshot()` lists the watches.
   *
   * @internal
   */
  get activeWatches(): number {
    return this.registry.size;
  }

  /**
   * Requests the loop for a query has sent and when Consul last answered it; undefined if none runs.
   *
   * Internal, for tests: `ConsulStatusService.snapshot()` is the public view of every watch.
   *
   * @internal
   */
  watchStats(service: string, query: DiscoveryQuery = {}): { requests: number; lastContact?: number } | undefined {
    const loop = this.registry.peek(this.keyOf(service, query, 'watchStats'));
    return loop && { requests: loop.requests, lastContact: loop.lastContact };
  }

  /**
   * The load balancer `choose()` and `lease()` use for `service` (one per service, never shared).
   *
   * Internal: callers pick through `choose()` or `lease()`, which count the call.
   *
   * @internal
   */
  balancerFor(service: string): LoadBalancer {
    let balancer = this.balancers.get(service);
    if (!balancer) {
      balancer = createLoadBalancer(this.options.discovery.loadBalancer);
      this.balancers.set(service, balancer);
    }
    return balancer;
  }

  onApplicationShutdown(): void {
    this.shutDown = true;
    this.pinned.clear();
    this.plainLookups.clear();
    this.registry.stopAll();
  }

  /** The loop of a lookup, started if need be. `method`: the public call it serves, named if the query is invalid. */
  private pinnedLoop(service: string, query: DiscoveryQuery, method: string): InstanceLoop {
    // Most lookups name only a service: skip building the full key for them.
    const plain = isEmptyQuery(query);
    const known = plain ? this.plainLookups.get(service) : undefined;
    // A released lease has already left plainLookups (the release callback): only shutdown stops a known loop.
    if (known && !known.lease.loop.stopped) {
      known.lease.used = true;
      return known.lease.loop;
    }
    const lease = this.pinned.use(this.keyOf(service, query, method), () => this.createLoop(service, query));
    if (plain) this.plainLookups.set(service, { lease, balancer: this.balancerFor(service) });
    return lease.loop;
  }

  /**
   * The key of a query's loop. Every lookup that is not a known service-only one comes through
   * here, so the query is checked here, before anything is built from it: a typo (`tag`) would
   * otherwise start a watch of every instance, and a bad value fail inside the loop.
   */
  private keyOf(service: string, query: DiscoveryQuery, method: string): string {
    const invalid = discoveryQueryError(method, service, query);
    if (invalid) throw invalid;
    const passingOnly = query.passingOnly ?? this.options.discovery.passingOnly;
    const tags = (query.tags ?? []).toSorted();
    return JSON.stringify([service, query.dc ?? '', tags, passingOnly, query.filter ?? '', query.near ?? '']);
  }

  private createLoop(service: string, query: DiscoveryQuery): InstanceLoop {
    // A loop started now would never be stopped: say so instead of leaking it.
    if (this.shutDown)
      throw new ConsulKitUsageError(
        'ConsulDiscoveryService',
        `it was shut down with the application; cannot watch "${service}": discover before app.close()`,
      );
    const { discovery } = this.options;
    const healthQuery = {
      service,
      ...query,
      passingOnly: query.passingOnly ?? discovery.passingOnly,
      stale: discovery.consistency === 'stale',
      // The agent's cache key leaves `near` out: a cached answer could carry another query's order
      // (or none). Sorted queries go to the servers.
      cached: discovery.cache === 'agent' && !query.near,
    };
    let warnedMalformed = false;
    const name = `service "${service}"${query.dc ? ` in ${query.dc}` : ''}${query.tags?.length ? ` tagged ${query.tags.join(',')}` : ''}`;
    const observer = this.metrics.watch({
      kind: 'service',
      query: describeQuery(name, healthQuery),
      service,
      datacenter: query.dc ?? 'local',
    });
    /** One answer as the list the cache keeps: mapped, malformed entries skipped, sorted by id and node. */
    const toInstances = async (answer: { entries: HealthServiceEntry[]; index: number }) => {
      const localDc = await this.localDatacenter();
      const strings: StringPool = new Map();
      const instances = answer.entries
        .map((entry) => toServiceInstance(entry, localDc, strings))
        .filter((instance): instance is ServiceInstance => instance !== undefined)
        .toSorted((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.node < b.node ? -1 : 1));
      if (instances.length < answer.entries.length && !warnedMalformed) {
        warnedMalformed = true;
        this.logger.warn(
          `Ignored ${answer.entries.length - instances.length} malformed instance(s) of "${service}" in Consul's answer`,
        );
      }
      observer.instances = instances.length;
      return { value: instances, index: answer.index };
    };
    return new BlockingQueryLoop<ServiceInstance[]>(
      // Not an async function awaiting the read: its suspended frame would be held for the whole
      // blocking query (minutes), one more per watched service. The mapping runs once the answer is in.
      (index, waitMs, signal) => {
        const read = () => this.client.healthService(healthQuery, { index, waitMs, signal });
        // Index 0 is a read without an index (the first, or after a failure or a reset): Consul
        // answers it at once with the whole list, so a thousand of them at once are a thousand
        // bodies in memory together. A blocking read holds its connection for minutes: never queued.
        return (index === 0 ? this.firstReads.run(read, signal) : read()).then(toInstances);
      },
      {
        name,
        observer,
        waitMs: discovery.waitMs,
        rateLimit: discovery.rateLimit,
        backoff: { initialMs: discovery.retry.initialDelayMs, maxMs: discovery.retry.maxDelayMs },
        equals: sameInstances,
        logger: this.logger,
        wake: this.client.reachability.onReconnect,
      },
    );
  }

  /** The agent's datacenter (the nearest in the catalog's list), to tell remote instances apart. */
  private localDatacenter(): Promise<string | undefined> {
    this.localDc ??= this.client.datacenters().then(
      (dcs) => dcs[0],
      () => {
        this.localDc = undefined; // ask again next time
        return undefined;
      },
    );
    return this.localDc;
  }
}

/** The error for a lookup that found no instance, counted in the metrics. */
function noAvailableInstance(
  metrics: ConsulMetrics,
  service: string,
  datacenters: Array<string | undefined>,
  tags: string[] | undefined,
): NoAvailableInstanceError {
  metrics.noAvailableInstance.add(1, metrics.serviceAttrs(service));
  return new NoAvailableInstanceError(
    service,
    datacenters.map((dc) => dc ?? 'the local datacenter'),
    tags,
  );
}

/** The watch as metrics name it: its log name, and what else tells two watches apart. */
function describeQuery(name: string, query: { passingOnly: boolean; filter?: string; near?: string }): string {
  return `${name}${query.passingOnly ? '' : ' (any status)'}${query.filter ? ` where ${query.filter}` : ''}${query.near ? ` near ${query.near}` : ''}`;
}

function isEmptyQuery(query: DiscoveryQuery): boolean {
  for (const key in query) if ((query as Record<string, unknown>)[key] !== undefined) return false;
  return true;
}
