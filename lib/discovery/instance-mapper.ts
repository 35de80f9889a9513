import type { HealthServiceEntry } from '../consul-api/consul-api.types.js';
import type { InstanceStatus, ServiceInstance } from './service-instance.js';

const MAINTENANCE_CHECK = /^_(service|node)_maintenance/;

/**
 * Turns one health entry into a {@link ServiceInstance}, or `undefined` when Consul sent
 * something unusable (no id, no port, no address): a bad entry must not break the list.
 * Across datacenters the WAN address is used when the instance (or its node) has one.
 */
export function toServiceInstance(entry: HealthServiceEntry, localDc: string | undefined): ServiceInstance | undefined {
  const service = entry?.Service;
  const node = entry?.Node;
  if (!service || typeof service.ID !== 'string' || typeof service.Service !== 'string') return undefined;
  const port = service.Port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const dc = typeof node?.Datacenter === 'string' ? node.Datacenter : (localDc ?? '');
  const remote = localDc !== undefined && dc !== '' && dc !== localDc;
  const address =
    (remote && (service.TaggedAddresses?.wan?.Address || node?.TaggedAddresses?.wan)) ||
    service.Address ||
    node?.Address;
  if (typeof address !== 'string' || address === '') return undefined;
  return {
    id: service.ID,
    service: service.Service,
    address,
    port,
    tags: Array.isArray(service.Tags) ? service.Tags.filter((tag) => typeof tag === 'string') : [],
    meta: service.Meta && typeof service.Meta === 'object' ? { ...service.Meta } : {},
    weights: {
      passing: typeof service.Weights?.Passing === 'number' ? service.Weights.Passing : 1,
      warning: typeof service.Weights?.Warning === 'number' ? service.Weights.Warning : 1,
    },
    dc,
    node: typeof node?.Node === 'string' ? node.Node : '',
    status: aggregateStatus(entry.Checks),
  };
}

/** Consul's own aggregation: maintenance beats critical beats warning beats passing. */
function aggregateStatus(checks: HealthServiceEntry['Checks']): InstanceStatus {
  let status: InstanceStatus = 'passing';
  for (const check of Array.isArray(checks) ? checks : []) {
    if (MAINTENANCE_CHECK.test(check?.CheckID ?? '')) return 'maintenance';
    if (check?.Status === 'critical') status = 'critical';
    else if (check?.Status === 'warning' && status === 'passing') status = 'warning';
  }
  return status;
}

/**
 * Same instances with the same fields, in the same order. Order counts on purpose: the discovery
 * loop sorts each answer by id and node before comparing, so Consul listing the same instances in
 * another order is not a change, and the list a balancer walks keeps one stable order.
 */
export function sameInstances(a: readonly ServiceInstance[], b: readonly ServiceInstance[]): boolean {
  if (a.length !== b.length) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
