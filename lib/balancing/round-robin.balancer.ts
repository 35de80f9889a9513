import type { ServiceInstance } from '../common/service-instance.js';
import type { LoadBalancer } from './load-balancer.js';

/** Even spread when instances are alike. Starts at a random position so many clients do not all begin on the first instance. */
export class RoundRobinBalancer implements LoadBalancer {
  private next: number;

  constructor(random: () => number = Math.random) {
    this.next = Math.floor(random() * 1_000_000);
  }

  pick(instances: readonly ServiceInstance[]): ServiceInstance {
    // A counter modulo the current length stays fair when the list changes between calls.
    const instance = instances[this.next % instances.length];
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return instance;
  }
}
