import { Logger } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { LoadBalancer } from '../balancing/load-balancer.js';
import { ConsulKitUsageError } from '../common/consul-kit-usage.error.js';
import type { ServiceInstance } from '../common/service-instance.js';
import type { AgentReachability } from '../consul-api/agent-reachability.js';
import type { ConsulApi } from '../consul-api/consul-api.js';
import type { HealthServiceEntry } from '../consul-api/consul-api.types.js';
import { LOG_CONTEXT } from '../consul.constants.js';
import type { ConsulMetrics } from '../observability/consul-metrics.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery.options.js';
import { BlockingQueryLoop } from '../watch/blocking-query.loop.js';
import { FirstReadGate } from '../watch/first-read-gate.js';
import { type IdleLease, IdleLeases } from '../watch/idle-leases.js';
import { WatchRegistry } from '../watch/watch-registry.js';
import { type DiscoveryQuery, discoveryQueryError, isEmptyQuery } from './discovery-query.js';
import { sameInstances, type StringPool, toServiceInstance } from './instance-mapper.js';
import { NoAvailableInstanceError } from './no-available-instance.error.js';

type InstanceLoop = BlockingQueryLoop<ServiceInstance[]>;

/** What the cache reads from Consul: the part of `ConsulApi` it uses, so a spec can fake it. */
export type InstanceSource = Pick<ConsulApi, 'healthService' | 'datacenters'> & {
  readonly reachability: Pick<AgentReachability, 'onReconnect'>;
};

/** A service-only lookup: its lease, and the service's balancer beside it (see {@link InstanceCache.plainLookups}). */
export interface PlainLookup {
  readonly lease: IdleLease<InstanceLoop>;
  readonly balancer: LoadBalancer;
}

/**
 * How many watches' first reads (whole lists, answered at once) may be in flight together: their
 * bodies land in the C heap, which glibc keeps, so many at once leave it larger for good. 32 kept
 * it smaller than 64, 16 no smaller than 32 (bench/results.md, notes). Fewer watches never wait.
 */
const FIRST_READS_AT_ONCE = 32;

/**
 * Instances of services, fed by Consul blocking queries: one loop per distinct query, shared by
 * every caller, so a lookup never waits on the network once a service has been seen. Lookups
 * that never say they are done keep their loop until it goes unused for `idleTimeoutMs`;
 * `watch()` subscribers keep theirs until they unsubscribe; `shutdown()` stops them all.
 */
export class InstanceCache {
  private readonly logger = new Logger(LOG_CONTEXT.discovery);
  private readonly registry = new WatchRegistry<InstanceLoop>();
  /** Leases for `getInstances()`/`choose()` callers, who never say they are done: released when idle. */
  private readonly pinned: IdleLeases<InstanceLoop>;
  private readonly lookupsByService = new Map<string, PlainLookup>();
  /**
   * Service-only queries by service name: their lease, and the service's balancer beside it, so
   * the hot path of `choose()` is one Map lookup: a second one showed in its CPU profiles. A
   * field, not a getter, for the same reason. Read it there directly and mark the lease used;
   * everything else goes through {@link cached} or {@link instances}. A released lease has
   * already left it; a known loop is stopped only by shutdown.
   */
  readonly plainLookups: ReadonlyMap<string, PlainLookup> = this.lookupsByService;
  /** Shared by every watch of this app: caps the first reads, never the blocking ones (each holds its connection for minutes). */
  private readonly firstReads = new FirstReadGate(FIRST_READS_AT_ONCE);
  private localDc?: Promise<string | undefined>;
  private shutDown = false;

  constructor(
    private readonly client: InstanceSource,
    private readonly discovery: ResolvedDiscoveryOptions,
    /** The app's: its watches and failed lookups are reported there. */
    private readonly metrics: ConsulMetrics,
    /** The balancer kept beside a service-only lookup's lease, for `choose()`'s hot path. */
    private readonly balancerFor: (service: string) => LoadBalancer,
  ) {
    this.pinned = new IdleLeases(this.registry, discovery.idleTimeoutMs, (lease) => {
      for (const [service, plain] of this.lookupsByService)
        if (plain.lease === lease) this.lookupsByService.delete(service);
    });
  }

  /** The current instances (the first call for a query waits for Consul's first answer). `method`: named if the query is invalid. */
  instances(service: string, query: DiscoveryQuery, method: string): Promise<ServiceInstance[]> {
    let loop: InstanceLoop;
    try {
      loop = this.pinnedLoop(service, query, method);
    } catch (error) {
      return Promise.reject(error);
    }
    const current = loop.current;
    return current ? Promise.resolve(current) : loop.ready();
  }

  /** The cached list, undefined before Consul's first answer; starts the watch if need be. Throws on an invalid query. */
  cached(service: string, query: DiscoveryQuery, method: string): ServiceInstance[] | undefined {
    return this.pinnedLoop(service, query, method).current;
  }

  /** The current instances; rejects with {@link NoAvailableInstanceError} when there are none. */
  async availableInstances(service: string, query: DiscoveryQuery, method: string): Promise<ServiceInstance[]> {
    const invalid = discoveryQueryError(method, service, query);
    if (invalid) throw invalid;
    const instances = await this.instances(service, query, 'getInstances');
    if (instances.length === 0) throw this.noAvailableInstance(service, [query.dc], query.tags);
    return instances;
  }

  /**
   * The first non-empty list of the datacenters `choose()` may use, in order: `query.dc` alone,
   * or the local one, then `failoverDatacenters`.
   */
  async acrossDatacenters(service: string, query: DiscoveryQuery): Promise<ServiceInstance[]> {
    const datacenters = query.dc ? [query.dc] : [undefined, ...this.discovery.failoverDatacenters];
    for (const dc of datacenters) {
      const instances = await this.instances(service, dc === query.dc ? query : { ...query, dc }, 'getInstances');
      if (instances.length > 0) return instances;
    }
    throw this.noAvailableInstance(service, datacenters, query.tags);
  }

  /** The current list at once, then one emission per real change; the loop stops when its last subscriber leaves. */
  watch(service: string, query: DiscoveryQuery): Observable<ServiceInstance[]> {
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

  /** How many watch loops run: one per distinct query in use. */
  get activeWatches(): number {
    return this.registry.size;
  }

  /** Requests the loop for a query has sent and when Consul last answered it; undefined if none runs. */
  watchStats(service: string, query: DiscoveryQuery): { requests: number; lastContact?: number } | undefined {
    const loop = this.registry.peek(this.keyOf(service, query, 'watchStats'));
    return loop && { requests: loop.requests, lastContact: loop.lastContact };
  }

  /** Stops every loop; a lookup after this is refused (see {@link createLoop}). */
  shutdown(): void {
    this.shutDown = true;
    this.pinned.clear();
    this.lookupsByService.clear();
    this.registry.stopAll();
  }

  /** The loop of a lookup, started if need be. `method`: the public call it serves, named if the query is invalid. */
  private pinnedLoop(service: string, query: DiscoveryQuery, method: string): InstanceLoop {
    // Most lookups name only a service: skip building the full key for them.
    const plain = isEmptyQuery(query);
    const known = plain ? this.lookupsByService.get(service) : undefined;
    // A released lease has already left lookupsByService (the release callback): only shutdown stops a known loop.
    if (known && !known.lease.loop.stopped) {
      known.lease.used = true;
      return known.lease.loop;
    }
    const lease = this.pinned.use(this.keyOf(service, query, method), () => this.createLoop(service, query));
    if (plain) this.lookupsByService.set(service, { lease, balancer: this.balancerFor(service) });
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
    const passingOnly = query.passingOnly ?? this.discovery.passingOnly;
    const tags = (query.tags ?? []).toSorted();
    return JSON.stringify([
      service,
      query.dc ?? '',
      tags,
      passingOnly,
      query.filter ?? '',
      query.near ?? '',
      query.connect === true,
    ]);
  }

  private createLoop(service: string, query: DiscoveryQuery): InstanceLoop {
    // A loop started now would never be stopped: say so instead of leaking it.
    if (this.shutDown)
      throw new ConsulKitUsageError(
        'ConsulDiscoveryService',
        `it was shut down with the application; cannot watch "${service}": discover before app.close()`,
      );
    const { discovery } = this;
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
    const name = `${query.connect ? 'Connect ' : ''}service "${service}"${query.dc ? ` in ${query.dc}` : ''}${query.tags?.length ? ` tagged ${query.tags.join(',')}` : ''}`;
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

  /** The error for a lookup that found no instance, counted in the metrics. */
  private noAvailableInstance(
    service: string,
    datacenters: Array<string | undefined>,
    tags: string[] | undefined,
  ): NoAvailableInstanceError {
    this.metrics.noAvailableInstance.add(1, this.metrics.serviceAttrs(service));
    return new NoAvailableInstanceError(
      service,
      datacenters.map((dc) => dc ?? 'the local datacenter'),
      tags,
    );
  }
}

/** The watch as metrics name it: its log name, and what else tells two watches apart. */
function describeQuery(name: string, query: { passingOnly: boolean; filter?: string; near?: string }): string {
  return `${name}${query.passingOnly ? '' : ' (any status)'}${query.filter ? ` where ${query.filter}` : ''}${query.near ? ` near ${query.near}` : ''}`;
}
