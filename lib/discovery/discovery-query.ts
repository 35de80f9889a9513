import type { ConsulOptionsError } from '../options/consul-options.error.js';
import { type SectionKeys, Validator } from '../options/validator.js';

/** Narrows a lookup. Each distinct combination is one shared watch loop. */
export interface DiscoveryQuery {
  /** Datacenter; default the agent's own (then `discovery.failoverDatacenters` for `choose()`). */
  dc?: string;
  /** Instances must carry all of these tags. */
  tags?: string[];
  /** Only instances whose checks all pass. Default `discovery.passingOnly` (true). */
  passingOnly?: boolean;
  /** Sort by round-trip time from this node (`_agent`: the local agent). */
  near?: string;
  /** Consul filter expression, e.g. `Service.Meta.version == "2"`. */
  filter?: string;
  /**
   * Only instances that take Consul Connect calls (`/v1/health/connect/<service>`): Connect-native
   * ones, and sidecar proxies for the service. What a Connect client dials. @default false
   */
  connect?: boolean;
}

const QUERY_KEYS: SectionKeys<DiscoveryQuery> = {
  dc: true,
  tags: true,
  passingOnly: true,
  near: true,
  filter: true,
  connect: true,
};

/**
 * Checks a {@link DiscoveryQuery} at `option` of `v`'s section, reporting each problem to `v`:
 * the same rules for a `forFeature()` client's `query` and for one given to `ConsulDiscoveryService`.
 */
export function checkDiscoveryQuery(v: Validator, raw: unknown, option: string): DiscoveryQuery | undefined {
  if (raw === undefined) return undefined;
  const given = v.section<DiscoveryQuery>(raw, option, QUERY_KEYS);
  const at = v.at(option);
  at.string(given.dc, 'dc');
  at.string(given.near, 'near');
  at.string(given.filter, 'filter');
  if (given.tags !== undefined) at.stringArray(given.tags, 'tags');
  if (given.passingOnly !== undefined) at.boolean(given.passingOnly, 'passingOnly', true);
  if (given.connect !== undefined) at.boolean(given.connect, 'connect', false);
  return given as DiscoveryQuery;
}

/**
 * The {@link ConsulOptionsError} for a query given to `ConsulDiscoveryService.<method>(service, query)`,
 * listing every problem, or undefined when the query is valid. Checked before any watch starts.
 */
export function discoveryQueryError(method: string, service: string, query: unknown): ConsulOptionsError | undefined {
  const v = Validator.create();
  checkDiscoveryQuery(v, query, 'query');
  return v.error(`ConsulDiscoveryService.${method}(${JSON.stringify(service)}, query)`);
}

/** Whether a query names nothing but the service: such lookups are keyed by the service name alone. */
export function isEmptyQuery(query: DiscoveryQuery): boolean {
  for (const key in query) if ((query as Record<string, unknown>)[key] !== undefined) return false;
  return true;
}
