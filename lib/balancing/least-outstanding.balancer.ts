import type { ServiceInstance } from '../common/service-instance.js';
import type { LoadBalancer } from './load-balancer.js';

/**
 * Power of two choices on in-flight calls: two random instances, the less busy wins. Steers
 * load away from slow instances without a global scan. Counts the calls of every lease
 * (`acquireLease`, the HTTP client, `ConsulClientProxy`, gRPC, `ConsulDiscoveryService.lease()`).
 */
export class LeastOutstandingBalancer implements LoadBalancer {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  pick(instances: readonly ServiceInstance[]): ServiceInstance {
    if (instances.length === 1) return instances[0];
    const first = Math.floor(this.random() * instances.length);
    let second = Math.floor(this.random() * (instances.length - 1));
    if (second >= first) second++;
    const a = instances[first];
    const b = instances[second];
    const loadA = this.inFlight.get(a.id) ?? 0;
    const loadB = this.inFlight.get(b.id) ?? 0;
    if (loadA !== loadB) return loadA < loadB ? a : b;
    return this.random() < 0.5 ? a : b;
  }

  /** Counts a call to `instance` until the returned function is called (once; later calls do nothing). */
  start(instance: ServiceInstance): () => void {
    const id = instance.id;
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const count = (this.inFlight.get(id) ?? 0) - 1;
      if (count > 0) this.inFlight.set(id, count);
      else this.inFlight.delete(id);
    };
  }

  /** Calls in flight to the instance with this id, for tests and diagnostics. */
  outstanding(id: string): number {
    return this.inFlight.get(id) ?? 0;
  }
}
