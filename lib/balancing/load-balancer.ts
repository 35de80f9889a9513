import type { ServiceInstance } from '../discovery/service-instance.js';

/**
 * Picks one instance per call. Implementations keep per-service state (one balancer per
 * service, never shared) and must do no I/O: `pick` runs on every request.
 */
export interface LoadBalancer {
  /** Picks one of `instances`, which is never empty. */
  pick(instances: readonly ServiceInstance[]): ServiceInstance;
  /** Called when a call to `instance` starts (for least-outstanding strategies). */
  onCallStart?(instance: ServiceInstance): void;
  /** Called when that call ends, successfully or not. */
  onCallEnd?(instance: ServiceInstance): void;
}

/** Built-in strategies. */
export type LoadBalancerStrategy = 'round-robin' | 'random' | 'weighted' | 'least-outstanding';

/** A built-in strategy name, or a factory making one balancer per service (for custom strategies). */
export type LoadBalancerOption = LoadBalancerStrategy | (() => LoadBalancer);
