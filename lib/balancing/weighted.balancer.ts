import type { ServiceInstance } from '../common/service-instance.js';
import type { LoadBalancer } from './load-balancer.js';

/**
 * Random choice in proportion to Consul weights (`Weights.Passing` for passing instances,
 * `Weights.Warning` for warning ones): for instances of unequal size, set where they register.
 */
export class WeightedBalancer implements LoadBalancer {
  // Cumulative weights of the last list seen; lists are replaced, not mutated, so identity tells a change.
  private list?: readonly ServiceInstance[];
  private cumulative: number[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  pick(instances: readonly ServiceInstance[]): ServiceInstance {
    if (instances !== this.list) this.prepare(instances);
    const total = this.cumulative[this.cumulative.length - 1];
    if (!(total > 0)) return instances[Math.floor(this.random() * instances.length)];
    const target = this.random() * total;
    let low = 0;
    let high = this.cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.cumulative[mid] > target) high = mid;
      else low = mid + 1;
    }
    return instances[low];
  }

  private prepare(instances: readonly ServiceInstance[]): void {
    let sum = 0;
    this.cumulative = instances.map((instance) => (sum += Math.max(0, weightOf(instance))));
    this.list = instances;
  }
}

function weightOf(instance: ServiceInstance): number {
  return instance.status === 'warning' ? instance.weights.warning : instance.weights.passing;
}
