import { Subscription } from 'rxjs';
import type { ServiceInstance } from '../../common/service-instance.js';
import type { DiscoveryQuery } from '../../discovery/consul-discovery.service.js';
import { CONSUL_INSTANCES_ATTRIBUTE } from './consul-grpc.balancer.js';
import { loadGrpcJs } from './grpc-js.loader.js';
import {
  addToRegistry,
  type GrpcRegistration,
  grpcRegistry,
  type InstanceSource,
  unknownEntryMessage,
} from './grpc-registry.js';

export type { InstanceSource } from './grpc-registry.js';

/** URI scheme of channels resolved through Consul: `consul://<source>/<service>`. */
export const CONSUL_GRPC_SCHEME = 'consul';
/** Channel option carrying the discovery query (JSON) of a `consul:` target. */
export const CONSUL_QUERY_OPTION = 'nestjs-consul-kit.query';

/**
 * Makes `consul://<id>/<service>` targets resolvable by grpc-js from `source`, and returns the
 * id to put in the target's authority (one per app, so apps in one process stay apart, and
 * random, so apps of two copies of the package do too).
 */
export function registerInstanceSource(source: InstanceSource): GrpcRegistration {
  registerConsulResolver();
  return addToRegistry(grpcRegistry().sources, source);
}

type GrpcJs = ReturnType<typeof loadGrpcJs>;
type GrpcUri = { scheme?: string; authority?: string; path: string };
type Endpoint = { addresses: Array<{ host: string; port: number }> };
/** grpc-js ≥ 1.14 calls a function; 1.10–1.13 call methods on an object. */
type ResolverListener =
  | ((endpoints: unknown, attributes: object, serviceConfig: unknown, note: string) => boolean)
  | {
      onSuccessfulResolution(
        endpoints: Endpoint[],
        config: null,
        configError: null,
        selector: null,
        attributes: object,
      ): void;
      onError(error: { code: number; details: string; metadata: unknown }): void;
    };

type Result = { instances: ServiceInstance[] } | { error: string };

/**
 * Registers the resolver once per grpc-js in the process, whichever copy of this package does
 * it: every copy's class reads the shared registry, so any of them serves every copy's sources.
 */
function registerConsulResolver(): void {
  const grpc = loadGrpcJs();
  const { registeredWith } = grpcRegistry();
  if (registeredWith.resolver.has(grpc.experimental)) return;
  grpc.experimental.registerResolver(CONSUL_GRPC_SCHEME, consulResolverClass(grpc) as never);
  registeredWith.resolver.add(grpc.experimental);
}

/**
 * A grpc-js name resolver fed by the shared Consul watch: our `nestjs_consul_kit` policy then
 * balances every call over the live instances, on one channel with one connection per instance.
 */
function consulResolverClass(grpc: GrpcJs) {
  return class ConsulResolver {
    private subscription?: Subscription;
    /** The result waiting for the next tick, if any. */
    private pending?: Result;
    private destroyed = false;
    private readonly service: string;
    private readonly query: DiscoveryQuery;

    constructor(
      private readonly target: GrpcUri,
      private readonly listener: ResolverListener,
      options: Record<string, unknown>,
    ) {
      this.service = target.path.replace(/^\//, '');
      this.query =
        typeof options[CONSUL_QUERY_OPTION] === 'string' ? JSON.parse(options[CONSUL_QUERY_OPTION] as string) : {};
    }

    static getDefaultAuthority(target: GrpcUri): string {
      return target.path.replace(/^\//, '');
    }

    /**
     * Subscribes to the source once; later calls do nothing, since the watch pushes every
     * change. The subscription is in place before the source can emit, and every result
     * reaches the listener on a later tick (grpc-js's rule: never from inside
     * `updateResolution()`), only the latest one if several arrive in the same tick.
     */
    updateResolution(): void {
      if (this.subscription) return;
      this.destroyed = false; // grpc-js reuses a destroyed resolver when an idle channel wakes up
      const source = grpcRegistry().sources.get(this.target.authority ?? '');
      // Never another app's (or copy's) discovery in its place: the channel fails, saying why.
      if (!source)
        return this.deliver({
          error: unknownEntryMessage(`${CONSUL_GRPC_SCHEME}://${this.target.authority ?? ''}/${this.service}`),
        });
      const subscription = new Subscription();
      this.subscription = subscription;
      subscription.add(
        source(this.service, this.query).subscribe({
          next: (instances) => this.deliver({ instances }),
          error: (error: Error) => {
            // The source is done: the next updateResolution() (grpc-js retries with backoff) subscribes again.
            if (this.subscription === subscription) this.subscription = undefined;
            this.deliver({ error: error.message });
          },
        }),
      );
    }

    destroy(): void {
      this.destroyed = true;
      this.pending = undefined;
      this.subscription?.unsubscribe();
      this.subscription = undefined;
    }

    private deliver(result: Result): void {
      const scheduled = this.pending !== undefined;
      this.pending = result;
      if (scheduled) return;
      process.nextTick(() => {
        const latest = this.pending;
        this.pending = undefined;
        if (this.destroyed || !latest) return;
        if ('instances' in latest) this.report(latest.instances);
        else this.fail(latest.error);
      });
    }

    private report(instances: ServiceInstance[]): void {
      if (instances.length === 0) return this.fail(`no available instance of service "${this.service}" in Consul`);
      const endpoints: Endpoint[] = instances.map((i) => ({ addresses: [{ host: i.address, port: i.port }] }));
      // Our balancing policy reads the instances (ids, weights, status) behind the endpoints from this attribute.
      const attributes = { [CONSUL_INSTANCES_ATTRIBUTE]: instances };
      if (typeof this.listener === 'function') {
        this.listener(grpc.experimental.statusOrFromValue(endpoints as never), attributes, null, '');
      } else {
        this.listener.onSuccessfulResolution(endpoints, null, null, null, attributes);
      }
    }

    private fail(details: string): void {
      const status = { code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() };
      if (typeof this.listener === 'function') {
        this.listener(grpc.experimental.statusOrFromError(status), {}, null, '');
      } else {
        this.listener.onError(status);
      }
    }
  };
}
