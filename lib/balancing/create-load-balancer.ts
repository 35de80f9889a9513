import { LeastOutstandingBalancer } from './least-outstanding.balancer.js';
import type { LoadBalancer, LoadBalancerOption, LoadBalancerStrategy } from './load-balancer.js';
import { RandomBalancer } from './random.balancer.js';
import { RoundRobinBalancer } from './round-robin.balancer.js';
import { WeightedBalancer } from './weighted.balancer.js';

const STRATEGIES: Record<LoadBalancerStrategy, () => LoadBalancer> = {
  'round-robin': () => new RoundRobinBalancer(),
  random: () => new RandomBalancer(),
  weighted: () => new WeightedBalancer(),
  'least-outstanding': () => new LeastOutstandingBalancer(),
};

/** The built-in strategy names. */
export const LOAD_BALANCER_STRATEGIES = Object.keys(STRATEGIES) as readonly LoadBalancerStrategy[];

/** A new balancer (its own state) for a strategy name or a custom factory. */
export function createLoadBalancer(option: LoadBalancerOption): LoadBalancer {
  if (typeof option === 'function') return option();
  const create = STRATEGIES[option];
  if (!create) {
    const names = LOAD_BALANCER_STRATEGIES.map((name) => `"${name}"`);
    throw new Error(`Unknown load balancer "${String(option)}": use ${names.join(', ')} or a factory function`);
  }
  return create();
}
