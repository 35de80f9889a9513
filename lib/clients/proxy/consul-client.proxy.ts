import type { ClientOptions, ClientProxy } from '@nestjs/microservices';
import { Observable, type Subscription } from 'rxjs';
import { acquireLease, type Lease, type LoadBalancer } from '../../balancing/load-balancer.js';
import type { ConsulDiscoveryService, DiscoveryQuery } from '../../discovery/consul-discovery.service.js';
import type { ServiceInstance } from '../../common/service-instance.js';
import { requireMicroservices } from '../../common/optional-peers.js';
import { ConsulKitUsageError } from '../../common/consul-kit-usage.error.js';

/** A Nest transport (TCP, Redis-less point-to-point…) and its options, less host and port, which Consul gives. */
export interface ConsulProxyOptions {
  transport: ClientOptions['transport'];
  options?: Record<string, unknown>;
  query?: DiscoveryQuery;
}

/**
 * A `ClientProxy` over every instance of a service: one cached Nest client per instance,
 * an instance chosen per `send()`/`emit()`, and the client of an instance that leaves the
 * catalog closed. Each call holds a balancer lease from when its instance is chosen until its
 * observable completes, errors or is unsubscribed, so `least-outstanding` sees calls in flight.
 */
export class ConsulClientProxy implements Pick<ClientProxy, 'connect' | 'close' | 'send' | 'emit' | 'unwrap'> {
  private readonly proxies = new Map<string, ClientProxy>();
  private subscription?: Subscription;
  /** Nest's, loaded at the first call (an HTTP-only app does not install @nestjs/microservices). */
  private factory?: (options: ClientOptions) => ClientProxy;

  /**
   * Built by `ConsulModule.forFeature()`; inject it with `@ConsulService(name)`.
   *
   * @internal
   */
  constructor(
    readonly service: string,
    private readonly discovery: ConsulDiscoveryService,
    private readonly balancer: LoadBalancer,
    private readonly proxyOptions: ConsulProxyOptions,
  ) {}

  /** Starts following the catalog (also done on the first call). */
  async connect(): Promise<void> {
    this.subscription ??= this.discovery.watch(this.service, this.proxyOptions.query).subscribe((instances) => {
      const live = new Set(instances.map((i) => i.id));
      for (const [id, proxy] of this.proxies) {
        if (!live.has(id)) {
          this.proxies.delete(id);
          void proxy.close();
        }
      }
    });
  }

  send<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    return this.call((proxy) => proxy.send<TResult, TInput>(pattern, data));
  }

  emit<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    return this.call((proxy) => proxy.emit<TResult, TInput>(pattern, data));
  }

  async close(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.close()));
    this.proxies.clear();
  }

  /**
   * Instance ids with an open client, for tests.
   *
   * @internal
   */
  get openInstances(): string[] {
    return [...this.proxies.keys()];
  }

  unwrap<T>(): T {
    throw new ConsulKitUsageError(
      'ConsulClientProxy.unwrap()',
      `the client of "${this.service}" spans one connection per instance; there is no single one to unwrap: ` +
        'call send() or emit(), which pick an instance per call',
    );
  }

  /**
   * One call on a leased instance, made at subscription. The lease is taken only once the
   * instance list is known and the subscriber is still there, and released by the teardown,
   * which runs on completion, error and unsubscription alike.
   */
  private call<T>(invoke: (proxy: ClientProxy) => Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      let lease: Lease | undefined;
      let inner: Subscription | undefined;
      this.instancesForNextCall().then(
        (instances) => {
          if (subscriber.closed) return; // unsubscribed while waiting: no call, no lease
          lease = acquireLease(this.balancer, instances);
          try {
            inner = invoke(this.proxyFor(lease.instance)).subscribe(subscriber);
          } catch (error) {
            subscriber.error(error);
          }
        },
        (error: unknown) => subscriber.error(error),
      );
      return () => {
        inner?.unsubscribe();
        lease?.release();
      };
    });
  }

  private async instancesForNextCall(): Promise<ServiceInstance[]> {
    if (!this.factory) {
      const { ClientProxyFactory } = await requireMicroservices(`ConsulClientProxy for "${this.service}"`);
      this.factory = (options) => ClientProxyFactory.create(options);
    }
    await this.connect();
    return this.discovery.getAvailableInstances(this.service, this.proxyOptions.query);
  }

  private proxyFor(instance: ServiceInstance): ClientProxy {
    let proxy = this.proxies.get(instance.id);
    if (!proxy) {
      proxy = this.factory!({
        transport: this.proxyOptions.transport,
        options: { ...this.proxyOptions.options, host: instance.address, port: instance.port },
      } as ClientOptions);
      this.proxies.set(instance.id, proxy);
    }
    return proxy;
  }
}
