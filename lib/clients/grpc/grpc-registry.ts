import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import type { LoadBalancer } from '../../balancing/load-balancer.js';
import type { DiscoveryQuery } from '../../discovery/discovery-query.js';
import type { ServiceInstance } from '../../common/service-instance.js';

/** Where a resolver gets instance lists: a discovery service's `watch()`. */
export type InstanceSource = (service: string, query: DiscoveryQuery) => Observable<ServiceInstance[]>;

/**
 * Where the registry lives on `globalThis`. grpc-js keeps one resolver per scheme and one policy
 * per name for the whole process, so every copy of this package loaded in it (two versions in
 * node_modules, a CommonJS and an ESM build…) must see the same sources and balancers, whichever
 * copy's classes grpc-js ended up holding. Versioned: a copy whose entries mean something else
 * must use another key, and with it another scheme and policy name.
 */
export const GRPC_REGISTRY_KEY = Symbol.for('nestjs-consul-kit.grpc/v1');

/** What every copy of the package shares with the others through {@link GRPC_REGISTRY_KEY}. */
export interface GrpcRegistry {
  /** `consul://<id>/<service>` authorities → the discovery of the app that made them. */
  readonly sources: Map<string, InstanceSource>;
  /** Ids in a channel's `loadBalancingConfig` → the balancer of the client that made it. */
  readonly balancers: Map<string, LoadBalancer>;
  /**
   * The grpc-js copies (their `experimental` namespace) our resolver and our policy are
   * registered with: one registration per grpc-js, whichever copy of ours made it.
   */
  readonly registeredWith: { readonly resolver: WeakSet<object>; readonly policy: WeakSet<object> };
}

/** One entry in the registry, with the id that names it in targets and service configs. */
export interface GrpcRegistration {
  readonly id: string;
  /** Removes the entry: a channel that still names it then fails its calls, naming the id. */
  unregister(): void;
}

/** The process's registry, made by whichever copy asks first. */
export function grpcRegistry(): GrpcRegistry {
  const holder = globalThis as unknown as Record<symbol, GrpcRegistry | undefined>;
  holder[GRPC_REGISTRY_KEY] ??= {
    sources: new Map(),
    balancers: new Map(),
    registeredWith: { resolver: new WeakSet(), policy: new WeakSet() },
  };
  return holder[GRPC_REGISTRY_KEY]!;
}

/**
 * Adds `value` under a random id: counters would start at 1 in every copy and in every app, and
 * the copies share the maps. `unregister` removes only this entry, once.
 */
export function addToRegistry<T>(map: Map<string, T>, value: T): GrpcRegistration {
  const id = randomUUID();
  map.set(id, value);
  return {
    id,
    unregister: () => {
      if (map.get(id) === value) map.delete(id);
    },
  };
}

/** What a resolver or policy says when its id is not (or no longer) in the registry. */
export function unknownEntryMessage(what: string): string {
  return `${what} is not registered with nestjs-consul-kit: its client was closed, or it belongs to no running app`;
}
