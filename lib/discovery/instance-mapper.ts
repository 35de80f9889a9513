import type { HealthServiceEntry } from '../consul-api/consul-api.types.js';
import type { InstanceStatus, ServiceInstance } from '../common/service-instance.js';

const MAINTENANCE_CHECK = /^_(service|node)_maintenance/;

// Most instances have no tags, no meta and Consul's default weights. One frozen copy of each,
// shared by all of them, instead of three small objects per instance.
// ServiceInstance declares them readonly; freezing makes a write fail loudly instead of
// changing every instance at once.
const NO_TAGS: readonly string[] = Object.freeze([]);
const NO_META: Readonly<Record<string, string>> = Object.freeze({});
const DEFAULT_WEIGHTS = Object.freeze({ passing: 1, warning: 1 });

/**
 * One copy of each repeated string of an answer. JSON.parse makes a new string for every
 * occurrence of a value (V8 shares only very short ones), so the node name, the service name
 * and a long address or meta value would be held once per instance; kept for as long as the
 * list is. Pass one per answer: it lives no longer than the mapping of that answer.
 */
export type StringPool = Map<string, string>;

function pooled(pool: StringPool | undefined, value: string): string {
  if (!pool) return value;
  const known = pool.get(value);
  if (known !== undefined) return known;
  pool.set(value, value);
  return value;
}

/**
 * Turns one health entry into a {@link ServiceInstance}, or `undefined` when Consul sent
 * something unusable (no id, no port, no address): a bad entry must not break the list.
 * Across datacenters the WAN address is used when the instance (or its node) has one.
 * The instance holds only what it declares: nothing of the entry (its Node, Checks, raw
 * Service) stays reachable from it, so the answer is garbage once mapped.
 */
export function toServiceInstance(
  entry: HealthServiceEntry,
  localDc: string | undefined,
  strings?: StringPool,
): ServiceInstance | undefined {
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
    service: pooled(strings, service.Service),
    address: pooled(strings, address),
    port,
    tags: tagsOf(service.Tags, strings),
    meta: metaOf(service.Meta, strings),
    weights: weightsOf(service.Weights),
    dc: pooled(strings, dc),
    node: typeof node?.Node === 'string' ? pooled(strings, node.Node) : '',
    status: aggregateStatus(entry.Checks),
  };
}

function tagsOf(tags: unknown, strings: StringPool | undefined): readonly string[] {
  if (!Array.isArray(tags)) return NO_TAGS;
  const kept = tags.filter((tag): tag is string => typeof tag === 'string').map((tag) => pooled(strings, tag));
  return kept.length > 0 ? kept : NO_TAGS;
}

/**
 * A copy, never the entry's own object; values pooled (keys become property names, which V8
 * shares already). fromEntries, like the spread it replaces, defines a `__proto__` key as data.
 */
function metaOf(meta: unknown, strings: StringPool | undefined): Readonly<Record<string, string>> {
  if (!meta || typeof meta !== 'object') return NO_META;
  const entries = Object.entries(meta as Record<string, string>);
  if (entries.length === 0) return NO_META;
  return Object.fromEntries(
    entries.map(([key, value]) => [key, typeof value === 'string' ? pooled(strings, value) : value]),
  );
}

function weightsOf(weights: NonNullable<HealthServiceEntry['Service']>['Weights']): ServiceInstance['weights'] {
  const passing = typeof weights?.Passing === 'number' ? weights.Passing : 1;
  const warning = typeof weights?.Warning === 'number' ? weights.Warning : 1;
  return passing === 1 && warning === 1 ? DEFAULT_WEIGHTS : { passing, warning };
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
