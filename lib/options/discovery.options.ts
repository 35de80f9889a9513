import { LOAD_BALANCER_STRATEGIES } from '../balancing/create-load-balancer.js';
import type { LoadBalancerOption, LoadBalancerStrategy } from '../balancing/load-balancer.js';
import { MAX_WAIT_MS } from './duration.js';
import { type ConsulRetryOptions, resolveRetryOptions } from './retry.options.js';
import { describe, type SectionKeys, type Validator } from './validator.js';

/** How blocking-query watches read Consul: the ones behind discovery and behind configuration. */
export interface ConsulWatchOptions {
  /** Longest a blocking query waits for a change; Consul caps it at 10m. @default "5m" */
  wait?: string;
  /** Per watch loop: at most `burst` requests at once, refilled at `perSecond`. @default { perSecond: 10, burst: 10 } */
  rateLimit?: { perSecond?: number; burst?: number };
  /**
   * How watches read: `"default"` (Consul's default: the leader answers) or `"stale"` (any server
   * answers, usually milliseconds behind: reads spread over all servers and go on through a
   * leader election, as Consul's DNS interface does by default). @default "default"
   */
  consistency?: 'default' | 'stale';
  /** Backoff of a watch after a failed read; the last good answer is kept meanwhile. @default { initialDelay: "1s", maxDelay: "30s" } */
  retry?: ConsulRetryOptions;
}

/** How services are discovered (`ConsulDiscoveryService`, `@ConsulService()` clients). */
export interface ConsulDiscoveryOptions extends ConsulWatchOptions {
  /**
   * A query looked up with `getInstances()`/`choose()` (or a typed client) and then not again for
   * this long stops being watched; the next lookup starts a new watch. `watch()` subscriptions
   * keep theirs until they unsubscribe. @default "10m"
   */
  idleTimeout?: string;
  /** Default strategy of `choose()` and the typed clients. @default "round-robin" */
  loadBalancer?: LoadBalancerOption;
  /** Only instances whose checks all pass. @default true */
  passingOnly?: boolean;
  /** Datacenters `choose()` falls back to, in order, when the local one has no instance. */
  failoverDatacenters?: string[];
  /** Consul's DNS interface for `resolveDns()`; `host` may be a name. Default: `consul.host`, port 8600. */
  dns?: { host?: string; port?: number };
  /**
   * Where discovery watches read instances. `"none"`: each watch sends its own blocking query
   * through the agent to the servers. `"agent"`: through the local agent's cache (`?cached`): the
   * agent keeps one background blocking query per distinct query and answers every process on the
   * node from it, so N apps watching S services cost the servers S queries, not N×S. The agent's
   * query is always a stale read (any server answers, whatever `consistency` says): a change can
   * take one Raft heartbeat longer to show (about 100–200 ms more on a 3-server cluster). Queries
   * with `near` are never cached (the agent's cache key leaves it out). Configuration (KV)
   * watches are not affected: Consul has no agent cache for KV. @default "none"
   */
  cache?: 'agent' | 'none';
}

const WATCH_KEYS: SectionKeys<ConsulWatchOptions> = { wait: true, rateLimit: true, consistency: true, retry: true };
const DISCOVERY_KEYS: SectionKeys<ConsulDiscoveryOptions> = {
  ...WATCH_KEYS,
  idleTimeout: true,
  loadBalancer: true,
  passingOnly: true,
  failoverDatacenters: true,
  dns: true,
  cache: true,
};
const RATE_LIMIT_KEYS: SectionKeys<NonNullable<ConsulWatchOptions['rateLimit']>> = { perSecond: true, burst: true };
const DNS_KEYS: SectionKeys<NonNullable<ConsulDiscoveryOptions['dns']>> = { host: true, port: true };
export const DISCOVERY_CACHES = ['agent', 'none'] as const;

/**
 * `discovery` as `ConsulConfigModule` takes it: only what shapes its watches. `ConsulModule`
 * takes the whole {@link resolveDiscoveryOptions}.
 */
export function resolveWatchOptions(parent: Validator, raw: unknown) {
  return watchSettings(parent.at('discovery'), parent.section<ConsulWatchOptions>(raw, 'discovery', WATCH_KEYS));
}

/** `discovery`: watches, balancing, failover and DNS. `agentHost`: DNS's default host. */
export function resolveDiscoveryOptions(parent: Validator, raw: unknown, agentHost: string) {
  const v = parent.at('discovery');
  const discovery = parent.section<ConsulDiscoveryOptions>(raw, 'discovery', DISCOVERY_KEYS);
  const dns = v.section<NonNullable<ConsulDiscoveryOptions['dns']>>(discovery.dns, 'dns', DNS_KEYS);
  return {
    ...watchSettings(v, discovery),
    idleTimeoutMs: v.duration(discovery.idleTimeout, 'idleTimeout', '10m', { positive: true }),
    loadBalancer: resolveLoadBalancer(v, discovery.loadBalancer, 'loadBalancer') ?? 'round-robin',
    passingOnly: v.boolean(discovery.passingOnly, 'passingOnly', true),
    failoverDatacenters: v.stringArray(discovery.failoverDatacenters, 'failoverDatacenters'),
    cache: v.oneOf(discovery.cache, 'cache', DISCOVERY_CACHES) ?? 'none',
    dns: {
      host: v.string(dns.host, 'dns.host') ?? agentHost,
      port: v.port(dns.port, 'dns.port') ?? 8600,
    },
  };
}

export type ResolvedWatchOptions = ReturnType<typeof resolveWatchOptions>;
export type ResolvedDiscoveryOptions = ReturnType<typeof resolveDiscoveryOptions>;

/** A built-in strategy's name or a factory; `undefined` when not given (the caller's default applies). */
export function resolveLoadBalancer(v: Validator, value: unknown, option: string): LoadBalancerOption | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function' || LOAD_BALANCER_STRATEGIES.includes(value as LoadBalancerStrategy)) {
    return value as LoadBalancerOption;
  }
  v.fail(
    option,
    `${describe(value)} is not a load balancer`,
    `use ${LOAD_BALANCER_STRATEGIES.map((name) => `"${name}"`).join(', ')} or a function returning a LoadBalancer`,
  );
  return undefined;
}

function watchSettings(v: Validator, watch: Record<string, any>) {
  const rateLimit = v.section<NonNullable<ConsulWatchOptions['rateLimit']>>(
    watch.rateLimit,
    'rateLimit',
    RATE_LIMIT_KEYS,
  );
  const waitMs = v.duration(watch.wait, 'wait', '5m', { positive: true });
  if (waitMs > MAX_WAIT_MS) v.fail('wait', `${describe(watch.wait)} is longer than Consul's maximum of 10m`);
  return {
    waitMs: Math.min(waitMs, MAX_WAIT_MS),
    rateLimit: {
      perSecond: v.positiveNumber(rateLimit.perSecond, 'rateLimit.perSecond', 10),
      burst: v.positiveNumber(rateLimit.burst, 'rateLimit.burst', 10),
    },
    consistency: v.oneOf(watch.consistency, 'consistency', ['default', 'stale'] as const) ?? 'default',
    retry: resolveRetryOptions(v, watch.retry, { initialDelay: '1s', maxDelay: '30s' }),
  };
}
