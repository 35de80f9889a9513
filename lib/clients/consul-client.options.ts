import type { Transport } from '@nestjs/microservices';
import type { LoadBalancerOption } from '../balancing/load-balancer.js';
import { checkDiscoveryQuery, type DiscoveryQuery } from '../discovery/discovery-query.js';
import { resolveLoadBalancer } from '../options/discovery.options.js';
import { SERVICE_NAME, SERVICE_NAME_RULE } from '../options/service.options.js';
import { formatDuration } from '../options/duration.js';
import { describe, isObject, type SectionKeys, Validator } from '../options/validator.js';
import type { ConsulGrpcClientOptions } from './grpc/consul-grpc.client.js';
import { type ConsulHttpClientOptions, HTTP_CLIENT_DEFAULTS } from './http/consul-http.client.js';

/** HTTP client options as written in `forFeature` (durations as strings). */
export interface ConsulHttpFeatureOptions {
  /** Which instances to call (tags, dc, filter…). */
  query?: DiscoveryQuery;
  /** `http` (default) or `https`. */
  scheme?: 'http' | 'https';
  /** How long each wait of a request may last (connecting, the headers, each pause in the body), e.g. `"2s"`. Default `"5s"`. */
  timeout?: string;
  /** Extra attempts, each on another instance, for idempotent requests after a connection error, a timeout or 503. Default 1. */
  retries?: number;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** Skip an instance after this many transport failures in a row, for `cooldown`. Default 3 and `"10s"`. */
  outlier?: { consecutiveFailures?: number; cooldown?: string };
  /**
   * For `scheme: "https"`: the CA that signed the instances' certificates, this client's own
   * certificate and key when they require one (mutual TLS), and the name to check their certificates
   * against when it is not the address they are called at.
   */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; servername?: string };
  /** Most connections kept open to one instance. Default: no limit. */
  connections?: number;
  /**
   * Call the service over Consul Connect native mTLS: only instances registered for Connect
   * (`/v1/health/connect/<service>`), over HTTPS, with this app's own leaf certificate as the
   * client's identity, and only to a server whose certificate chains to the mesh's roots and names
   * this service. Needs `connect: { native: true }` in `ConsulModule.forRoot()`; brings its own TLS,
   * so no `tls` or `scheme`. @default false
   */
  connect?: boolean;
}

/**
 * One client in `ConsulModule.forFeature([...])`. `loadBalancer` chooses the instance of each
 * call for this client (default `discovery.loadBalancer`), for every transport.
 */
export type ConsulClientDefinition =
  | { service: string; transport: Transport.GRPC; options: ConsulGrpcClientOptions; loadBalancer?: LoadBalancerOption }
  | { service: string; transport: 'http'; options?: ConsulHttpFeatureOptions; loadBalancer?: LoadBalancerOption }
  | {
      service: string;
      transport: Exclude<Transport, Transport.GRPC>;
      options?: Record<string, unknown>;
      query?: DiscoveryQuery;
      loadBalancer?: LoadBalancerOption;
    };

/** A `forFeature()` client after validation: HTTP durations in ms; the balancer given, or the module default. */
export type ResolvedClientDefinition =
  | Exclude<ConsulClientDefinition, { transport: 'http' }>
  | { service: string; transport: 'http'; options: ConsulHttpClientOptions; loadBalancer?: LoadBalancerOption };

const HTTP_KEYS: SectionKeys<ConsulHttpFeatureOptions> = {
  query: true,
  scheme: true,
  timeout: true,
  retries: true,
  headers: true,
  outlier: true,
  tls: true,
  connections: true,
  connect: true,
};
const OUTLIER_KEYS: SectionKeys<NonNullable<ConsulHttpFeatureOptions['outlier']>> = {
  consecutiveFailures: true,
  cooldown: true,
};
const TLS_KEYS: SectionKeys<NonNullable<ConsulHttpFeatureOptions['tls']>> = {
  ca: true,
  cert: true,
  key: true,
  servername: true,
};
const GRPC_RETRY_KEYS: SectionKeys<NonNullable<ConsulGrpcClientOptions['retry']>> = {
  maxAttempts: true,
  methods: true,
};
/** grpc-js caps a retry policy's maxAttempts at 5. */
const GRPC_MAX_ATTEMPTS = 5;
const GRPC_METHOD = /^[A-Za-z_][\w.]*(\/[A-Za-z_]\w*)?$/;

/**
 * Validates the clients of one `ConsulModule.forFeature([...])` call, all of them at once, and
 * turns their durations into milliseconds. Nest's own options of a transport (gRPC's `package`,
 * `protoPath`…, a TCP client's options) are Nest's to check; ours (`query`, `retry`, timeouts,
 * pools, `loadBalancer`) are checked here, unknown keys included.
 */
export function resolveClientDefinitions(
  definitions: readonly ConsulClientDefinition[],
  /** Nest's `Transport` enum, or undefined when `@nestjs/microservices` is not installed. */
  transports: typeof Transport | undefined,
  /** What the app's own options allow its clients: Connect calls need the app to run Connect native. */
  app: { connectNative: boolean } = { connectNative: false },
): ResolvedClientDefinition[] {
  const root = Validator.create();
  if (!Array.isArray(definitions)) {
    root.fail('(clients)', `expected an array of { service, transport, options? }, got ${describe(definitions)}`);
    root.throwIfAny('ConsulModule.forFeature()');
  }
  const seen = new Set<string>();
  const resolved = definitions.map((raw, i) => {
    const definition: Record<string, any> = isObject(raw) ? raw : {};
    const name = typeof definition.service === 'string' ? definition.service : `#${i}`;
    const v = root.at(`ConsulModule.forFeature() client "${name}":`);
    if (!isObject(raw)) v.fail('', `expected { service, transport, options? }, got ${describe(raw)}`);
    if (typeof definition.service !== 'string' || !SERVICE_NAME.test(definition.service)) {
      v.fail('service', `${describe(definition.service)} is not a valid service name`, SERVICE_NAME_RULE);
    } else if (seen.has(definition.service)) {
      v.fail('service', 'is listed twice', 'give each service one client; inject it wherever it is needed');
    }
    seen.add(definition.service);
    const loadBalancer = resolveLoadBalancer(v, definition.loadBalancer, 'loadBalancer');
    if (definition.transport === 'http') {
      v.section(definition, '', { service: true, transport: true, options: true, loadBalancer: true });
      return {
        ...definition,
        loadBalancer,
        options: httpOptions(v, definition.options, app),
      } as ResolvedClientDefinition;
    }
    // Every other transport is Nest's: an HTTP-only app may not have the package at all.
    if (!transports) {
      v.fail(
        'transport',
        `${describe(definition.transport)} is a Nest transport, which needs @nestjs/microservices: it is not installed`,
        'npm install @nestjs/microservices (and @grpc/grpc-js @grpc/proto-loader for gRPC), or use transport: "http"',
      );
      return definition as ResolvedClientDefinition;
    }
    if (definition.transport === transports.GRPC) {
      v.section(definition, '', { service: true, transport: true, options: true, loadBalancer: true });
      return {
        ...definition,
        loadBalancer,
        options: grpcOptions(v, definition.options, app.connectNative),
      } as ResolvedClientDefinition;
    }
    if (!Object.values(transports).includes(definition.transport)) {
      v.fail(
        'transport',
        `${describe(definition.transport)} is not a transport`,
        'use "http", Transport.GRPC, or another Nest Transport (Transport.TCP…)',
      );
    }
    v.section(definition, '', { service: true, transport: true, options: true, query: true, loadBalancer: true });
    checkDiscoveryQuery(v, definition.query, 'query');
    if (definition.options !== undefined && !isObject(definition.options)) {
      v.fail('options', `expected the transport's client options, got ${describe(definition.options)}`);
    }
    return { ...definition, loadBalancer } as ResolvedClientDefinition;
  });
  root.throwIfAny('ConsulModule.forFeature()');
  return resolved;
}

function httpOptions(parent: Validator, raw: unknown, app: { connectNative: boolean }): ConsulHttpClientOptions {
  const defaults = HTTP_CLIENT_DEFAULTS;
  const v = parent.at('options');
  const options = parent.section<ConsulHttpFeatureOptions>(raw, 'options', HTTP_KEYS);
  const connect = v.boolean(options.connect, 'connect', false);
  if (connect) checkConnect(v, options, app);
  const outlier = v.section<NonNullable<ConsulHttpFeatureOptions['outlier']>>(options.outlier, 'outlier', OUTLIER_KEYS);
  if (options.connections !== undefined && !(Number.isInteger(options.connections) && options.connections > 0)) {
    v.fail(
      'connections',
      `${describe(options.connections)} is not a positive whole number`,
      'give the most connections to keep open per instance, e.g. 10, or leave it out for no limit',
    );
  }
  if (options.tls !== undefined && !isObject(options.tls)) {
    v.fail(
      'tls',
      `${describe(options.tls)} is not an object`,
      'use { ca, cert, key } with PEM strings or Buffers (cert and key only for mutual TLS)',
    );
  }
  const tls = isObject(options.tls) ? v.section(options.tls, 'tls', TLS_KEYS) : undefined;
  if (tls) for (const key of ['ca', 'cert', 'key'] as const) v.at('tls').pem(tls[key], key);
  if (tls) v.at('tls').string(tls.servername, 'servername');
  if (options.headers !== undefined && !(isObject(options.headers) && Object.values(options.headers).every(isText))) {
    v.fail('headers', `expected an object of strings, got ${describe(options.headers)}`);
  }
  return {
    query: checkDiscoveryQuery(v, options.query, 'query'),
    scheme: v.oneOf(options.scheme, 'scheme', ['http', 'https'] as const),
    // Defaults stay the client's own (HTTP_CLIENT_DEFAULTS: it is public and built by hand too): only
    // what was given is checked, and left out stays left out.
    timeoutMs:
      options.timeout === undefined
        ? undefined
        : v.duration(options.timeout, 'timeout', formatDuration(defaults.timeoutMs), { positive: true }),
    retries: options.retries === undefined ? undefined : v.integer(options.retries, 'retries', defaults.retries, 0),
    headers: options.headers,
    outlier: {
      consecutiveFailures:
        outlier.consecutiveFailures === undefined
          ? undefined
          : v.integer(
              outlier.consecutiveFailures,
              'outlier.consecutiveFailures',
              defaults.outlier.consecutiveFailures,
              1,
            ),
      cooldownMs:
        outlier.cooldown === undefined
          ? undefined
          : v.duration(outlier.cooldown, 'outlier.cooldown', formatDuration(defaults.outlier.cooldownMs), {
              positive: true,
            }),
    },
    tls: tls as ConsulHttpClientOptions['tls'],
    connections: options.connections,
    connect,
  };
}

/** A client's `connect: true` in an app without Connect native: it would have no identity to call with. */
function requireConnectNative(v: Validator): void {
  v.fail(
    'connect',
    "needs the app to run Connect native: the app's own leaf certificate is the identity it calls with",
    'add connect: { native: true } (and a service name) to ConsulModule.forRoot(), or leave options.connect out',
  );
}

/** `connect: true`: the app's own leaf is the client's identity, and Connect brings the TLS. */
function checkConnect(v: Validator, options: Record<string, any>, app: { connectNative: boolean }): void {
  if (!app.connectNative) requireConnectNative(v);
  if (options.tls !== undefined) {
    v.fail(
      'tls',
      'cannot be given with connect: true: Connect brings its own TLS (the mesh roots and the leaf certificate)',
      'remove options.tls, or options.connect to call with your own certificates',
    );
  }
  if (options.scheme === 'http') {
    v.fail('scheme', '"http" cannot be given with connect: true: Connect calls are HTTPS', 'remove options.scheme');
  }
  if (isObject(options.query) && options.query.connect === false) {
    v.fail(
      'query.connect',
      'false cannot be given with connect: true: Connect calls go only to instances that take them',
      'remove options.query.connect',
    );
  }
}

function grpcOptions(parent: Validator, raw: unknown, connectNative: boolean): ConsulGrpcClientOptions {
  const v = parent.at('options');
  if (!isObject(raw)) {
    parent.fail(
      'options',
      raw === undefined ? 'is required' : `expected an object, got ${describe(raw)}`,
      'give at least { package, protoPath }',
    );
    return {} as ConsulGrpcClientOptions;
  }
  checkDiscoveryQuery(v, raw.query, 'query');
  const connect = v.boolean(raw.connect, 'connect', false);
  if (connect && !connectNative) requireConnectNative(v);
  if (connect && raw.credentials !== undefined) {
    v.fail(
      'credentials',
      'cannot be given with connect: true, which makes the credentials (the mesh certificates)',
      'leave credentials out to call over Connect, or leave connect out to use your own',
    );
  }
  const retry = v.section<NonNullable<ConsulGrpcClientOptions['retry']>>(raw.retry, 'retry', GRPC_RETRY_KEYS);
  if (
    retry.maxAttempts !== undefined &&
    !(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1 && retry.maxAttempts <= GRPC_MAX_ATTEMPTS)
  ) {
    v.fail(
      'retry.maxAttempts',
      `${describe(retry.maxAttempts)} is not a whole number from 1 to ${GRPC_MAX_ATTEMPTS}`,
      'grpc-js caps retries at 5 attempts; 1 turns retries off',
    );
  }
  if (
    retry.methods !== undefined &&
    !(Array.isArray(retry.methods) && retry.methods.every((m: unknown) => isText(m) && GRPC_METHOD.test(m)))
  ) {
    v.fail(
      'retry.methods',
      `${describe(retry.methods)} is not a list of gRPC services or methods`,
      'write "package.Service" or "package.Service/Method"',
    );
  }
  return raw as ConsulGrpcClientOptions;
}

function isText(value: unknown): value is string {
  return typeof value === 'string';
}
