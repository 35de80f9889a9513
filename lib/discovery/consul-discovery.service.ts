import type { OnApplicationShutdown } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { createLoadBalancer } from '../balancing/create-load-balancer.js';
import { acquireLease, type Lease, type LoadBalancer } from '../balancing/load-balancer.js';
import type { ServiceInstance } from '../common/service-instance.js';
import type { ConsulApi } from '../consul-api/consul-api.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import type { ConsulMetrics } from '../observability/consul-metrics.js';
import { ConsulDnsResolver, type DnsInstance, type DnsLookupOptions } from './consul-dns.resolver.js';
import { type DiscoveryQuery, isEmptyQuery } from './discovery-query.js';
import { InstanceCache } from './instance-cache.js';

export type { DiscoveryQuery } from './discovery-query.js';

/**
 * Instances of other services, from a cache fed by Consul blocking queries: one loop per
 * distinct query, shared by every caller, so `choose()` and `getInstances()` never wait on
 * the network once a service has been seen.
 */
export class ConsulDiscoveryService implements OnApplicationShutdown {
  /** The instance lists: watches, idle release, failover across datacenters. */
  private readonly cache: InstanceCache;
  private readonly balancers = new Map<string, LoadBalancer>();
  private readonly dnsResolver: ConsulDnsResolver;

  /** @internal Nest builds it; inject it instead. */
  constructor(
    client: ConsulApi,
    private readonly options: ResolvedConsulOptions,
    /** The app's: its watches and failed lookups are reported there. */
    metrics: ConsulMetrics,
  ) {
    this.cache = new InstanceCache(client, options.discovery, metrics, (service) => this.balancerFor(service));
    this.dnsResolver = new ConsulDnsResolver(options.discovery.dns, { timeoutMs: options.consul.timeoutMs });
  }

  /** The current instances (the first call for a query waits for Consul's first answer). */
  getInstances(service: string, query: DiscoveryQuery = {}): Promise<ServiceInstance[]> {
    return this.cache.instances(service, query, 'getInstances');
  }

  /** The current instances; rejects with `NoAvailableInstanceError` (naming service, datacenter, tags) when there are none. */
  getAvailableInstances(service: string, query: DiscoveryQuery = {}): Promise<ServiceInstance[]> {
    return this.cache.availableInstances(service, query, 'getAvailableInstances');
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
    // Written out here rather than through the cache's methods, which getInstances() and lease() share:
    // the extra call is measurable at millions of choose() a second.
    const known = isEmptyQuery(query) ? this.cache.plainLookups.get(service) : undefined;
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
      cached = this.cache.cached(service, query, 'choose');
    } catch (error) {
      return Promise.reject(error);
    }
    if (cached && cached.length > 0) return Promise.resolve(this.balancerFor(service).pick(cached));
    return this.cache.acrossDatacenters(service, query).then((instances) => this.balancerFor(service).pick(instances));
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
      cached = this.cache.cached(service, query, 'lease');
    } catch (error) {
      return Promise.reject(error);
    }
    if (cached && cached.length > 0) return Promise.resolve(acquireLease(this.balancerFor(service), cached));
    return this.cache
      .acrossDatacenters(service, query)
      .then((instances) => acquireLease(this.balancerFor(service), instances));
  }

  /**
   * Instance lists as they change: the current list at once, then one emission per real change.
   * The watch loop is shared, and stops when its last subscriber unsubscribes.
   */
  watch(service: string, query: DiscoveryQuery = {}): Observable<ServiceInstance[]> {
    return this.cache.watch(service, query);
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
    return this.cache.activeWatches;
  }

  /**
   * Requests the loop for a query has sent and when Consul last answered it; undefined if none runs.
   *
   * Internal, for tests: `ConsulStatusService.snapshot()` is the public view of every watch.
   *
   * @internal
   */
  watchStats(service: string, query: DiscoveryQuery = {}): { requests: number; lastContact?: number } | undefined {
    return this.cache.watchStats(service, query);
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
    this.cache.shutdown();
  }
}
