import { ConsulOptionsError, type OptionProblem } from './consul-options.error.js';
import type { ConsulCheckType, ConsulModuleOptions } from './consul-options.interface.js';
import { formatDuration, tryParseDuration } from './duration.js';
import type { ResolvedConsulOptions } from './resolved-options.js';
import { type Cidr, parseCidr } from '../registration/cidr.js';
import type { LoadBalancerOption, LoadBalancerStrategy } from '../balancing/load-balancer.js';
import { resolveConfigOptions } from '../config/consul-config.options.js';

const LOAD_BALANCERS: readonly LoadBalancerStrategy[] = ['round-robin', 'random', 'weighted', 'least-outstanding'];
const CHECK_TYPES: readonly ConsulCheckType[] = ['http', 'tcp', 'grpc', 'ttl', 'none'];
const SERVICE_NAME = /^[A-Za-z0-9_-]{1,63}$/;
const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Validates the options given to `ConsulModule` and fills in defaults.
 * Collects every problem before throwing one {@link ConsulOptionsError}, so nothing is half-applied.
 */
export function resolveConsulOptions(raw: ConsulModuleOptions): ResolvedConsulOptions {
  const v = new Validator();
  const options = (isObject(raw) ? raw : {}) as Partial<ConsulModuleOptions>;
  if (!isObject(raw)) v.fail('(options)', `expected an object, got ${describe(raw)}`);

  const consul = v.object(options.consul, 'consul');
  // No service: an app that only discovers or reads configuration, and registers nothing.
  const serviceless = options.service === undefined;
  const service = v.object(options.service, 'service');
  const check = v.object(service.check, 'service.check');
  const registration = v.object(options.registration, 'registration');
  const retry = v.object(registration.retry, 'registration.retry');
  const address = v.object(options.address, 'address');
  const health = v.object(options.health, 'health');
  const discovery = v.object(options.discovery, 'discovery');
  const rateLimit = v.object(discovery.rateLimit, 'discovery.rateLimit');
  const dns = v.object(discovery.dns, 'discovery.dns');
  const waitMs = v.duration(discovery.wait, 'discovery.wait', '5m', { positive: true });
  if (waitMs > 600_000) v.fail('discovery.wait', `${describe(discovery.wait)} is longer than Consul's maximum of 10m`);

  const connection = resolveConnection(v, consul);
  const name = serviceless ? undefined : v.serviceName(service.name);
  const checkType = v.oneOf(check.type, 'service.check.type', CHECK_TYPES);
  const checkPath = v.string(check.path, 'service.check.path') ?? '/health';
  if (!checkPath.startsWith('/')) v.fail('service.check.path', `${JSON.stringify(checkPath)} must start with "/"`);

  if (serviceless && registration.enabled === true) {
    v.fail('registration.enabled', 'is true but there is no service to register: add service: { name: "..." }');
  }
  const family = address.family === undefined ? 4 : address.family;
  if (family !== 4 && family !== 6) v.fail('address.family', `${describe(address.family)} is not 4 or 6`);

  const resolved: ResolvedConsulOptions = {
    consul: connection,
    service: serviceless
      ? undefined
      : {
          name: name!,
          id: v.serviceId(service.id),
          address: v.string(service.address, 'service.address'),
          port: v.port(service.port, 'service.port'),
          tags: v.stringArray(service.tags, 'service.tags'),
          meta: v.meta(service.meta),
          enableTagOverride: v.boolean(service.enableTagOverride, 'service.enableTagOverride', false),
          weights: v.weights(service.weights),
          check: {
            type: checkType,
            path: checkPath,
            interval: formatDuration(v.duration(check.interval, 'service.check.interval', '10s', { positive: true })),
            timeout:
              check.timeout === undefined
                ? undefined
                : formatDuration(v.duration(check.timeout, 'service.check.timeout', '10s', { positive: true })),
            ttlMs: v.duration(check.ttl, 'service.check.ttl', '15s', { positive: true }),
            deregisterCriticalServiceAfter: formatDuration(
              v.duration(check.deregisterCriticalServiceAfter, 'service.check.deregisterCriticalServiceAfter', '1m', {
                positive: true,
              }),
            ),
            tlsSkipVerify: v.boolean(check.tlsSkipVerify, 'service.check.tlsSkipVerify', false),
          },
        },
    registration: {
      enabled: v.boolean(registration.enabled, 'registration.enabled', true) && !serviceless,
      failFast: v.boolean(registration.failFast, 'registration.failFast', false),
      retry: {
        initialDelayMs: v.duration(retry.initialDelay, 'registration.retry.initialDelay', '1s', { positive: true }),
        maxDelayMs: v.duration(retry.maxDelay, 'registration.retry.maxDelay', '30s', { positive: true }),
        factor: v.factor(retry.factor),
      },
      reconcileIntervalMs: v.duration(registration.reconcileInterval, 'registration.reconcileInterval', '30s', {
        positive: true,
      }),
      drainDelayMs: v.duration(registration.drainDelay, 'registration.drainDelay', '0s'),
    },
    address: {
      preferredNetworks: v.cidrs(address.preferredNetworks),
      interface: v.string(address.interface, 'address.interface'),
      family: family === 6 ? 6 : 4,
    },
    health: { indicators: v.indicators(health.indicators) },
    config: resolveConfigOptions(v, options.config, name),
    discovery: {
      waitMs,
      idleTimeoutMs: v.duration(discovery.idleTimeout, 'discovery.idleTimeout', '10m', { positive: true }),
      rateLimit: {
        perSecond: v.positiveNumber(rateLimit.perSecond, 'discovery.rateLimit.perSecond', 10),
        burst: v.positiveNumber(rateLimit.burst, 'discovery.rateLimit.burst', 10),
      },
      loadBalancer: v.loadBalancer(discovery.loadBalancer),
      passingOnly: v.boolean(discovery.passingOnly, 'discovery.passingOnly', true),
      consistency: v.oneOf(discovery.consistency, 'discovery.consistency', ['default', 'stale'] as const) ?? 'default',
      failoverDatacenters: v.stringArray(discovery.failoverDatacenters, 'discovery.failoverDatacenters'),
      dns: {
        host: v.string(dns.host, 'discovery.dns.host') ?? connection.host,
        port: v.port(dns.port, 'discovery.dns.port') ?? 8600,
      },
    },
  };
  v.throwIfAny();
  return resolved;
}

/** `consul.*`: how to reach the agent. */
export function resolveConnection(v: Validator, consul: Record<string, any>): ResolvedConsulOptions['consul'] {
  const secure = v.boolean(consul.secure, 'consul.secure', false);
  const host = v.string(consul.host, 'consul.host') ?? '127.0.0.1';
  const port = v.port(consul.port, 'consul.port') ?? 8500;
  if (consul.token !== undefined && (typeof consul.token !== 'string' || consul.token === '')) {
    // Never echo the value: it is a secret.
    v.fail('consul.token', 'must be a non-empty string', 'pass the ACL token as a string, or leave it out');
  }
  for (const key of ['ca', 'cert', 'key'] as const) {
    const value = consul[key];
    if (value !== undefined && typeof value !== 'string' && !Buffer.isBuffer(value)) {
      v.fail(`consul.${key}`, 'must be a PEM string or a Buffer');
    }
  }
  if ((consul.cert === undefined) !== (consul.key === undefined)) {
    v.fail(
      consul.cert === undefined ? 'consul.cert' : 'consul.key',
      'consul.cert and consul.key go together',
      'set both or neither',
    );
  }

  return {
    host,
    port,
    secure,
    token: typeof consul.token === 'string' ? consul.token : undefined,
    ca: consul.ca,
    cert: consul.cert,
    key: consul.key,
    timeoutMs: v.duration(consul.timeout, 'consul.timeout', '5s', { positive: true }),
    address: `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
  };
}

export class Validator {
  private readonly problems: OptionProblem[] = [];

  fail(option: string, problem: string, fix?: string): void {
    this.problems.push({ option, problem, fix });
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new ConsulOptionsError(this.problems);
  }

  object(value: unknown, option: string, required = false): Record<string, any> {
    if (value === undefined && !required) return {};
    if (isObject(value)) return value;
    this.fail(option, value === undefined ? 'is required' : `expected an object, got ${describe(value)}`);
    return {};
  }

  string(value: unknown, option: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && value.trim() !== '') return value;
    this.fail(option, `expected a non-empty string, got ${describe(value)}`);
    return undefined;
  }

  boolean(value: unknown, option: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    this.fail(option, `expected true or false, got ${describe(value)}`);
    return fallback;
  }

  port(value: unknown, option: string): number | undefined {
    if (value === undefined) return undefined;
    if (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535) return value as number;
    this.fail(option, `${describe(value)} is not a port`, 'use a whole number from 1 to 65535');
    return undefined;
  }

  duration(value: unknown, option: string, fallback: string, { positive = false } = {}): number {
    const ms = tryParseDuration(value === undefined ? fallback : value);
    if (ms === undefined) {
      this.fail(option, `${describe(value)} is not a duration`, 'use a number and a unit, like "500ms", "10s" or "1m"');
      return tryParseDuration(fallback)!;
    }
    if (positive && ms <= 0) {
      this.fail(option, `${describe(value)} must be longer than zero`);
      return tryParseDuration(fallback)!;
    }
    return ms;
  }

  oneOf<T extends string>(value: unknown, option: string, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (allowed.includes(value as T)) return value as T;
    this.fail(option, `${describe(value)} is not one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    return undefined;
  }

  serviceName(value: unknown): string {
    if (typeof value === 'string' && SERVICE_NAME.test(value)) return value;
    this.fail(
      'service.name',
      value === undefined ? 'is required' : `${describe(value)} is not a valid service name`,
      'use 1 to 63 letters, digits, "-" or "_" (it becomes a DNS label)',
    );
    return 'invalid';
  }

  serviceId(value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && /^[^\s/?#%]{1,128}$/.test(value)) return value;
    this.fail(
      'service.id',
      `${describe(value)} is not a valid instance id`,
      'use up to 128 characters without spaces, "/", "?", "#" or "%"',
    );
    return undefined;
  }

  stringArray(value: unknown, option: string): string[] {
    if (value === undefined) return [];
    if (Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '')) return [...value];
    this.fail(option, `expected an array of non-empty strings, got ${describe(value)}`);
    return [];
  }

  meta(value: unknown): Record<string, string> {
    if (value === undefined) return {};
    if (!isObject(value)) {
      this.fail('service.meta', `expected an object of strings, got ${describe(value)}`);
      return {};
    }
    const entries = Object.entries(value);
    if (entries.length > 64) this.fail('service.meta', `has ${entries.length} keys`, 'Consul allows at most 64');
    for (const [key, item] of entries) {
      if (!META_KEY.test(key)) {
        this.fail(`service.meta.${key}`, 'is not a valid meta key', 'use up to 128 letters, digits, "-" or "_"');
      } else if (typeof item !== 'string' || item.length > 512) {
        this.fail(`service.meta.${key}`, `expected a string of at most 512 characters, got ${describe(item)}`);
      }
    }
    return { ...(value as Record<string, string>) };
  }

  weights(value: unknown): { passing: number; warning: number } | undefined {
    if (value === undefined) return undefined;
    const weights = this.object(value, 'service.weights');
    const ok = (n: unknown, min: number) => Number.isInteger(n) && (n as number) >= min;
    if (!ok(weights.passing, 1))
      this.fail('service.weights.passing', `${describe(weights.passing)} is not a whole number ≥ 1`);
    if (!ok(weights.warning, 0))
      this.fail('service.weights.warning', `${describe(weights.warning)} is not a whole number ≥ 0`);
    return { passing: weights.passing, warning: weights.warning };
  }

  positiveNumber(value: unknown, option: string, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
    this.fail(option, `${describe(value)} is not a number greater than zero`);
    return fallback;
  }

  loadBalancer(value: unknown): LoadBalancerOption {
    if (value === undefined) return 'round-robin';
    if (typeof value === 'function' || LOAD_BALANCERS.includes(value as LoadBalancerStrategy)) {
      return value as LoadBalancerOption;
    }
    this.fail(
      'discovery.loadBalancer',
      `${describe(value)} is not a load balancer`,
      `use ${LOAD_BALANCERS.map((name) => `"${name}"`).join(', ')} or a function returning a LoadBalancer`,
    );
    return 'round-robin';
  }

  factor(value: unknown): number {
    if (value === undefined) return 2;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 1) return value;
    this.fail('registration.retry.factor', `${describe(value)} is not a number ≥ 1`);
    return 2;
  }

  cidrs(value: unknown): Cidr[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.fail('address.preferredNetworks', `expected an array of CIDRs, got ${describe(value)}`);
      return [];
    }
    return value.flatMap((text, i) => {
      const cidr = typeof text === 'string' ? parseCidr(text) : undefined;
      if (!cidr)
        this.fail(
          `address.preferredNetworks[${i}]`,
          `${describe(text)} is not a CIDR`,
          'write it like "10.0.0.0/8" or "fd00::/8"',
        );
      return cidr ? [cidr] : [];
    });
  }

  indicators(value: unknown): any[] {
    if (value === undefined) return [];
    if (Array.isArray(value) && value.every((item) => typeof item === 'function')) return [...value];
    this.fail(
      'health.indicators',
      'expected an array of functions',
      'pass Terminus indicator functions, e.g. () => this.http.pingCheck(...)',
    );
    return [];
  }
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return typeof value;
  }
}
