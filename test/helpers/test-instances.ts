import type { InstanceStatus, ServiceInstance } from '../../lib/common/service-instance.js';

/** ServiceInstance fixtures for balancer specs. */
export function instance(
  id: string,
  extra: { passing?: number; warning?: number; status?: InstanceStatus } = {},
): ServiceInstance {
  return {
    id,
    service: 'svc',
    address: '127.0.0.1',
    port: 1000 + id.length,
    tags: [],
    meta: {},
    weights: { passing: extra.passing ?? 1, warning: extra.warning ?? 1 },
    dc: 'dc1',
    node: 'n1',
    status: extra.status ?? 'passing',
  };
}

/** Counts picks per instance id over `n` draws. */
export function tally(pick: () => ServiceInstance, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = pick().id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** How many binomial standard deviations `observed` is from `n * p`. */
export function sigmas(observed: number, n: number, p: number): number {
  return Math.abs(observed - n * p) / Math.sqrt(n * p * (1 - p));
}
