import { formatDuration } from './duration.js';
import { describe, isObject, type SectionKeys, type Validator } from './validator.js';

/** The check type Consul runs against this instance. */
export type ConsulCheckType = 'http' | 'tcp' | 'grpc' | 'ttl' | 'none';

export interface ConsulCheckOptions {
  /**
   * `http` (default for apps with an HTTP server): Consul calls the health endpoint the module serves.
   * `tcp` (default for microservice-only apps): Consul opens a TCP connection to address:port.
   * `grpc`: Consul calls `grpc.health.v1.Health/Check`, which the module serves in the app's gRPC microservice.
   * `ttl`: the app reports its own health to Consul at about 2/3 of `ttl`.
   * `none`: no check.
   */
  type?: ConsulCheckType;
  /** Path of the health endpoint served for `http` checks. @default "/health" */
  path?: string;
  /** How often Consul runs the check. @default "10s" */
  interval?: string;
  /** How long Consul waits for one check. Default: Consul's own (10s). */
  timeout?: string;
  /** TTL of a `ttl` check. @default "15s" */
  ttl?: string;
  /** Consul removes the instance after its check has been critical this long; at least `"1m"`, Consul's minimum. @default "1m" */
  deregisterCriticalServiceAfter?: string;
  /** Skip TLS verification in HTTP/gRPC checks. @default false */
  tlsSkipVerify?: boolean;
}

/** What is registered in Consul for this app. */
export interface ConsulServiceOptions {
  /** Service name (letters, digits, `-`, `_`): the name others discover. Required. */
  name: string;
  /** Instance id. Default `${name}-${hostname}-${port}`, DNS-safe: unique per instance, stable across restarts. */
  id?: string;
  /** Registered address. Default: the HTTP server's bound address, else auto-detected (see `address`). */
  address?: string;
  /** Registered port. Default: the port the HTTP server actually listens on (works with `listen(0)`). */
  port?: number;
  tags?: string[];
  meta?: Record<string, string>;
  enableTagOverride?: boolean;
  /** Weights used by DNS SRV answers and weighted balancers. */
  weights?: { passing: number; warning: number };
  check?: ConsulCheckOptions;
}

const SERVICE_KEYS: SectionKeys<ConsulServiceOptions> = {
  name: true,
  id: true,
  address: true,
  port: true,
  tags: true,
  meta: true,
  enableTagOverride: true,
  weights: true,
  check: true,
};
const CHECK_KEYS: SectionKeys<ConsulCheckOptions> = {
  type: true,
  path: true,
  interval: true,
  timeout: true,
  ttl: true,
  deregisterCriticalServiceAfter: true,
  tlsSkipVerify: true,
};
const WEIGHT_KEYS: SectionKeys<NonNullable<ConsulServiceOptions['weights']>> = { passing: true, warning: true };
const CHECK_TYPES: readonly ConsulCheckType[] = ['http', 'tcp', 'grpc', 'ttl', 'none'];
/** The rule for service names: a DNS label, as Consul's DNS interface needs. */
export const SERVICE_NAME = /^[A-Za-z0-9_-]{1,63}$/;
export const SERVICE_NAME_RULE = 'use 1 to 63 letters, digits, "-" or "_" (it becomes a DNS label)';
const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;
/** Consul rounds a shorter DeregisterCriticalServiceAfter up to this, without saying so. */
const CONSUL_MIN_DEREGISTER_MS = 60_000;

/** `service`: this app as registered in Consul; `undefined` for an app that registers nothing. */
export function resolveServiceOptions(parent: Validator, raw: unknown) {
  if (raw === undefined) return undefined;
  return resolveService(parent, raw, 'service');
}

/** One service at `path` (`service`, `microservices[0]`): the same shape and rules wherever it sits. */
function resolveService(parent: Validator, raw: unknown, path: string) {
  const v = parent.at(path);
  const service = parent.section<ConsulServiceOptions>(raw, path, SERVICE_KEYS, { required: true });
  return {
    name: serviceName(v, service.name),
    id: serviceId(v, service.id),
    address: v.string(service.address, 'address'),
    port: v.port(service.port, 'port'),
    tags: v.stringArray(service.tags, 'tags'),
    meta: meta(v, service.meta),
    enableTagOverride: v.boolean(service.enableTagOverride, 'enableTagOverride', false),
    weights: weights(v, service.weights),
    check: resolveCheckOptions(v, service.check),
  };
}

export type ResolvedServiceOptions = NonNullable<ReturnType<typeof resolveServiceOptions>>;

/** A microservice of a hybrid app: a service of its own, on the port its transport listens on. */
export interface ConsulMicroserviceOptions extends ConsulServiceOptions {
  /**
   * The port the connected microservice listens on. Required: no public Nest API tells it (the HTTP
   * server's port is the main service's).
   */
  port: number;
  /**
   * `tcp` (default) or `grpc` (serve the health service with `withGrpcHealth()`), `ttl` or `none`.
   * Not `http`: Consul's HTTP check calls the HTTP server, which is the main service's.
   */
  check?: Omit<ConsulCheckOptions, 'type' | 'path'> & { type?: Exclude<ConsulCheckType, 'http'> };
}

export type ResolvedMicroserviceOptions = ResolvedServiceOptions & { port: number };

/**
 * `microservices`: the microservices a hybrid app connects (`app.connectMicroservice()`), each
 * registered as a service of its own beside `service` (the HTTP server).
 */
export function resolveMicroservicesOptions(
  parent: Validator,
  raw: unknown,
  hasService: boolean,
): ResolvedMicroserviceOptions[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    parent.fail('microservices', `expected an array, got ${describe(raw)}`, 'pass [{ name, port }, ...]');
    return [];
  }
  if (raw.length > 0 && !hasService) {
    parent.fail(
      'microservices',
      'needs service: the main service is the instance locks and sessions tie to',
      'add service: { name } for the HTTP server (in a microservice-only app, put the microservice in service)',
    );
  }
  const resolved: ResolvedMicroserviceOptions[] = [];
  const ports = new Map<number, number>();
  raw.forEach((entry: unknown, i) => {
    const path = `microservices[${i}]`;
    const v = parent.at(path);
    const service = resolveService(parent, entry, path);
    if (service.port === undefined) {
      if (isObject(entry) && entry.port === undefined) {
        v.fail(
          'port',
          'is required: no Nest API tells the port a connected microservice listens on',
          'set it to the port in its transport options (url or port)',
        );
      }
      return;
    }
    if (isObject(entry) && isObject(entry.check) && entry.check.path !== undefined) {
      v.fail('check.path', 'is the path of an HTTP check, and a microservice has none', 'remove it');
    }
    if (service.check.type === 'http') {
      v.fail(
        'check.type',
        '"http" is the HTTP server\'s check, and the HTTP server is the main service',
        'use "tcp" (the default), "grpc" with withGrpcHealth(), "ttl" or "none"',
      );
    }
    const other = ports.get(service.port);
    if (other !== undefined) {
      v.fail(
        'port',
        `${service.port} is also the port of microservices[${other}]`,
        'give each microservice its own port',
      );
    }
    ports.set(service.port, i);
    resolved.push({ ...service, port: service.port });
  });
  return resolved;
}

function resolveCheckOptions(parent: Validator, raw: unknown) {
  const v = parent.at('check');
  const check = parent.section<ConsulCheckOptions>(raw, 'check', CHECK_KEYS);
  const path = v.string(check.path, 'path') ?? '/health';
  if (!path.startsWith('/')) v.fail('path', `${JSON.stringify(path)} must start with "/"`);
  return {
    /** `undefined`: chosen when the app starts (`http` with an HTTP server, else `tcp`). */
    type: v.oneOf(check.type, 'type', CHECK_TYPES),
    path,
    interval: formatDuration(v.duration(check.interval, 'interval', '10s', { positive: true })),
    timeout:
      check.timeout === undefined
        ? undefined
        : formatDuration(v.duration(check.timeout, 'timeout', '10s', { positive: true })),
    ttlMs: v.duration(check.ttl, 'ttl', '15s', { positive: true }),
    deregisterCriticalServiceAfter: formatDuration(
      v.duration(check.deregisterCriticalServiceAfter, 'deregisterCriticalServiceAfter', '1m', {
        min: CONSUL_MIN_DEREGISTER_MS,
        minReason: "Consul's minimum of 1m (Consul would silently wait 1m anyway)",
      }),
    ),
    tlsSkipVerify: v.boolean(check.tlsSkipVerify, 'tlsSkipVerify', false),
  };
}

function serviceName(v: Validator, value: unknown): string {
  if (typeof value === 'string' && SERVICE_NAME.test(value)) return value;
  v.fail(
    'name',
    value === undefined ? 'is required' : `${describe(value)} is not a valid service name`,
    SERVICE_NAME_RULE,
  );
  return 'invalid';
}

function serviceId(v: Validator, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && /^[^\s/?#%]{1,128}$/.test(value)) return value;
  v.fail(
    'id',
    `${describe(value)} is not a valid instance id`,
    'use up to 128 characters without spaces, "/", "?", "#" or "%"',
  );
  return undefined;
}

function meta(v: Validator, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    v.fail('meta', `expected an object of strings, got ${describe(value)}`);
    return {};
  }
  const entries = Object.entries(value);
  if (entries.length > 64) v.fail('meta', `has ${entries.length} keys`, 'Consul allows at most 64');
  for (const [key, item] of entries) {
    if (!META_KEY.test(key)) {
      v.fail(`meta.${key}`, 'is not a valid meta key', 'use up to 128 letters, digits, "-" or "_"');
    } else if (typeof item !== 'string' || item.length > 512) {
      v.fail(`meta.${key}`, `expected a string of at most 512 characters, got ${describe(item)}`);
    }
  }
  return { ...(value as Record<string, string>) };
}

function weights(parent: Validator, value: unknown): { passing: number; warning: number } | undefined {
  if (value === undefined) return undefined;
  const v = parent.at('weights');
  const given = parent.section<NonNullable<ConsulServiceOptions['weights']>>(value, 'weights', WEIGHT_KEYS, {
    required: true,
  });
  const ok = (n: unknown, min: number) => Number.isInteger(n) && (n as number) >= min;
  if (!ok(given.passing, 1)) v.fail('passing', `${describe(given.passing)} is not a whole number ≥ 1`);
  if (!ok(given.warning, 0)) v.fail('warning', `${describe(given.warning)} is not a whole number ≥ 0`);
  return { passing: given.passing, warning: given.warning };
}
