import type { ServiceInstance } from '../common/service-instance.js';
import type { LoadBalancer } from './load-balancer.js';

/** Uniform random choice: no state, good with many independent callers. */
export class RandomBalancer implements LoadBalancer {
  constructor(private readonly random: () => number = Math.random) {}

  pick(instances: readonly ServiceInstance[]): ServiceInstance {
    return instances[Math.floor(this.random() * instances.length)];
  }
}
