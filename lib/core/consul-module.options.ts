import {
  type ConsulConfigOptions,
  type ResolvedConfigOptions,
  resolveConfigOptions,
} from '../options/consul-config.options.js';
import { type ConsulLocksOptions, resolveLocksOptions } from '../options/locks.options.js';
import { type ConsulConnectOptions, resolveConnectOptions } from '../options/connect.options.js';
import { type ConsulAddressOptions, resolveAddressOptions } from '../options/address.options.js';
import {
  type ConsulConnectionOptions,
  type ResolvedConnectionOptions,
  resolveConnectionOptions,
} from '../options/connection.options.js';
import {
  type ConsulDiscoveryOptions,
  type ConsulWatchOptions,
  type ResolvedWatchOptions,
  resolveDiscoveryOptions,
  resolveWatchOptions,
} from '../options/discovery.options.js';
import { type ConsulHealthOptions, resolveHealthOptions } from '../options/health.options.js';
import { type ConsulRegistrationOptions, resolveRegistrationOptions } from '../options/registration.options.js';
import {
  type ConsulMicroserviceOptions,
  type ConsulServiceOptions,
  resolveMicroservicesOptions,
  resolveServiceOptions,
} from '../options/service.options.js';
import { describe, isObject, type SectionKeys, Validator } from '../options/validator.js';

/** Options of `ConsulModule.forRoot()` / `forRootAsync()`: the sum of its sections. */
export interface ConsulModuleOptions {
  consul?: ConsulConnectionOptions;
  /**
   * This app, as registered in Consul. Leave it out for an app that only discovers other services
   * or reads configuration (a gateway, a worker, a CLI): then nothing is registered.
   */
  service?: ConsulServiceOptions;
  /**
   * Hybrid apps: the microservices connected with `app.connectMicroservice()`, each registered as a
   * service of its own (own instance id, check and lifecycle) beside `service`, the HTTP server.
   * Each needs its `port`; the check is `tcp` unless set (`grpc` with `withGrpcHealth()`). @default []
   */
  microservices?: ConsulMicroserviceOptions[];
  registration?: ConsulRegistrationOptions;
  address?: ConsulAddressOptions;
  health?: ConsulHealthOptions;
  discovery?: ConsulDiscoveryOptions;
  /** Configuration from Consul KV (`ConsulConfigService`). Off unless set. */
  config?: ConsulConfigOptions;
  /** Locks, leader election and semaphores on Consul sessions. Nothing is sent to Consul until they are used. */
  locks?: ConsulLocksOptions;
  /** Consul Connect native: mTLS with the agent's certificates, callers admitted by intentions. Off unless set. */
  connect?: ConsulConnectOptions;
}

/** Options of the standalone `ConsulConfigModule` (and `consulConfigLoader()`): configuration, no registration. */
export interface ConsulConfigModuleOptions {
  consul?: ConsulConnectionOptions;
  config: ConsulConfigOptions;
  /** What shapes the config watches. */
  discovery?: ConsulWatchOptions;
}

const MODULE_KEYS: SectionKeys<ConsulModuleOptions> = {
  consul: true,
  service: true,
  microservices: true,
  registration: true,
  address: true,
  health: true,
  discovery: true,
  config: true,
  locks: true,
  connect: true,
};
const CONFIG_MODULE_KEYS: SectionKeys<ConsulConfigModuleOptions> = { consul: true, config: true, discovery: true };

/**
 * Validates the options given to `ConsulModule` and fills in defaults, section by section.
 * Every problem of every section is thrown at once, in one {@link ConsulOptionsError}.
 */
export function resolveConsulOptions(raw: ConsulModuleOptions) {
  const v = Validator.create();
  const options = topLevel<ConsulModuleOptions>(v, raw, MODULE_KEYS);
  const consul = resolveConnectionOptions(v, options.consul);
  const service = resolveServiceOptions(v, options.service);
  const resolved = {
    consul,
    service,
    microservices: resolveMicroservicesOptions(v, options.microservices, service !== undefined),
    registration: resolveRegistrationOptions(v, options.registration, service !== undefined),
    address: resolveAddressOptions(v, options.address),
    health: resolveHealthOptions(v, options.health),
    discovery: resolveDiscoveryOptions(v, options.discovery, consul.host),
    config: resolveConfigOptions(v, options.config, service?.name),
    locks: resolveLocksOptions(v, options.locks, service?.name),
    connect: resolveConnectOptions(v, options.connect, service !== undefined),
  };
  v.throwIfAny('ConsulModule');
  return resolved;
}

/** What the core (adapter, configuration, watches) needs, whichever module was configured. */
export function resolveConfigModuleOptions(raw: ConsulConfigModuleOptions) {
  const v = Validator.create();
  const options = topLevel<ConsulConfigModuleOptions>(v, raw, CONFIG_MODULE_KEYS);
  if (options.config === undefined && !v.failed) {
    v.fail('config', 'is required', 'pass { config: { app: "my_app" } }');
  }
  const resolved = {
    consul: resolveConnectionOptions(v, options.consul),
    // No service here: contexts use config.app only if it is given.
    config: resolveConfigOptions(v, options.config ?? {}, undefined),
    discovery: resolveWatchOptions(v, options.discovery),
  };
  v.throwIfAny('ConsulConfigModule');
  return resolved;
}

/** Module options after validation and defaults: what the rest of the library reads. */
export type ResolvedConsulOptions = ReturnType<typeof resolveConsulOptions>;
/** The part every module layer resolves: the connection, the watch settings and the configuration. */
export interface ResolvedCoreOptions {
  consul: ResolvedConnectionOptions;
  discovery: ResolvedWatchOptions;
  config?: ResolvedConfigOptions;
}
export type { ResolvedMicroserviceOptions, ResolvedServiceOptions } from '../options/service.options.js';

function topLevel<T>(v: Validator, raw: unknown, keys: SectionKeys<T>): Record<string, any> {
  if (isObject(raw)) return v.section<T>(raw, '', keys);
  v.fail('(options)', `expected an object, got ${describe(raw)}`);
  return {};
}
