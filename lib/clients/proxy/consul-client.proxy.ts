import {
  ClientProxy,
  ClientProxyFactory,
  type ClientOptions,
  type ReadPacket,
  type WritePacket,
} from '@nestjs/microservices';
import { defer, from, mergeMap, type Observable, type Subscription } from 'rxjs';
import type { LoadBalancer } from '../../balancing/load-balancer.js';
import type { ConsulDiscoveryService, DiscoveryQuery } from '../../discovery/consul-discovery.service.js';
import type { ServiceInstance } from '../../discovery/service-instance.js';

/** A Nest transport (TCP, Redis-less point-to-point…) and its options, less host and port, which Consul gives. */
export interface ConsulProxyOptions {
  transport: ClientOptions['transport'];
  options?: Record<string, unknown>;
  query?: DiscoveryQuery;
}

/**
 * A `ClientProxy` over every instance of a service: one cached Nest client per instance,
 * an instance chosen per `send()`/`emit()`, and the client of an instance that leaves the
 * catalog closed.
 */
export class ConsulClientProxy extends ClientProxy {
  private readonly proxies = new Map<string, ClientProxy>();
  private subscription?: Subscription;

  constructor(
    readonly service: string,
    private readonly discovery: ConsulDiscoveryService,
    private readonly balancer: LoadBalancer,
    private readonly proxyOptions: ConsulProxyOptions,
  ) {
    super();
  }

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

  override send<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    return defer(() => from(this.proxyForNextCall())).pipe(
      mergeMap(({ proxy }) => proxy.send<TResult, TInput>(pattern, data)),
    );
  }

  override emit<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    return defer(() => from(this.proxyForNextCall())).pipe(
      mergeMap(({ proxy }) => proxy.emit<TResult, TInput>(pattern, data)),
    );
  }

  async close(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.close()));
    this.proxies.clear();
  }

  /** Instance ids with an open client, for tests and diagnostics. */
  get openInstances(): string[] {
    return [...this.proxies.keys()];
  }

  unwrap<T>(): T {
    throw new Error(
      `ConsulClientProxy for "${this.service}" spans several connections; there is no single one to unwrap`,
    );
  }

  // send() and emit() are routed to per-instance clients, which publish themselves.
  protected publish(_packet: ReadPacket, _callback: (packet: WritePacket) => void): () => void {
    throw new Error('ConsulClientProxy.publish is not used');
  }

  protected dispatchEvent<T = any>(_packet: ReadPacket): Promise<T> {
    throw new Error('ConsulClientProxy.dispatchEvent is not used');
  }

  private async proxyForNextCall(): Promise<{ proxy: ClientProxy; instance: ServiceInstance }> {
    await this.connect();
    const instances = await this.discovery.getAvailableInstances(this.service, this.proxyOptions.query);
    const instance = this.balancer.pick(instances);
    let proxy = this.proxies.get(instance.id);
    if (!proxy) {
      proxy = ClientProxyFactory.create({
        transport: this.proxyOptions.transport,
        options: { ...this.proxyOptions.options, host: instance.address, port: instance.port },
      } as ClientOptions);
      this.proxies.set(instance.id, proxy);
    }
    return { proxy, instance };
  }
}
