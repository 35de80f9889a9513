import type { ServiceInstance } from '../common/service-instance.js';

/**
 * Chooses the instance of each call, and may count the calls in flight. One balancer per
 * service (never shared); no I/O: both methods run on every call.
 *
 * The two steps are apart on purpose: a choice can be dropped before its call starts (grpc-js
 * picks again when the chosen connection drops in between), so only `start` counts a call.
 * Callers do not call them one by one: they take a {@link Lease} with {@link acquireLease}
 * (the HTTP client, `ConsulClientProxy`, `ConsulDiscoveryService.lease()`), or, in the gRPC
 * policy, `pick` when grpc-js picks and `start` when the call really starts.
 *
 * A custom strategy is an object with `pick`, plus `start` when it keeps per-call state:
 *
 * ```ts
 * const firstHealthy = (): LoadBalancer => ({ pick: (instances) => instances[0] });
 *
 * class FewestCalls implements LoadBalancer {
 *   private readonly calls = new Map<string, number>();
 *   pick(instances: readonly ServiceInstance[]) {
 *     return instances.reduce((a, b) => ((this.calls.get(b.id) ?? 0) < (this.calls.get(a.id) ?? 0) ? b : a));
 *   }
 *   start(instance: ServiceInstance) {
 *     this.calls.set(instance.id, (this.calls.get(instance.id) ?? 0) + 1);
 *     return () => this.calls.set(instance.id, this.calls.get(instance.id)! - 1);
 *   }
 * }
 * ```
 */
export interface LoadBalancer {
  /**
   * Chooses one of `instances` (never empty) for the next call, and returns that element.
   * A choice only: it must not count a call, since it may be dropped unused.
   */
  pick(instances: readonly ServiceInstance[]): ServiceInstance;
  /**
   * A call to `instance` (a result of `pick`) starts now. Returns the function that ends it,
   * which callers call exactly once, when the call ends in any way (answer, error, timeout,
   * cancellation). Leave it out when the strategy keeps no per-call state.
   */
  start?(instance: ServiceInstance): () => void;
}

/**
 * One call's hold on an instance, from {@link acquireLease}: the balancer counts the call until
 * `release()`. Whoever takes a lease releases it when the call ends, however it ends.
 */
export interface Lease {
  /** The instance to call. */
  readonly instance: ServiceInstance;
  /** Ends the call. Idempotent: only the first call counts. */
  release(): void;
}

/** Built-in strategies. */
export type LoadBalancerStrategy = 'round-robin' | 'random' | 'weighted' | 'least-outstanding';

/** A built-in strategy name, or a factory making one balancer per service (for custom strategies). */
export type LoadBalancerOption = LoadBalancerStrategy | (() => LoadBalancer);

class CallLease implements Lease {
  constructor(
    readonly instance: ServiceInstance,
    private end: (() => void) | undefined,
  ) {}

  release(): void {
    const end = this.end;
    this.end = undefined;
    end?.();
  }
}

/**
 * Picks an instance with `balancer` and starts a call on it: the one way to call through a
 * balancer. Release the lease when the call ends (in a `finally`, or on the observable's
 * completion, error and unsubscription).
 */
export function acquireLease(balancer: LoadBalancer, instances: readonly ServiceInstance[]): Lease {
  const instance = balancer.pick(instances);
  return new CallLease(instance, balancer.start?.(instance));
}
