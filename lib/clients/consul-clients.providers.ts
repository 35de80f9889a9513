import type { Provider } from '@nestjs/common';
import { Transport } from '@nestjs/microservices';
import { createLoadBalancer, LOAD_BALANCER_STRATEGIES } from '../balancing/create-load-balancer.js';
import type { LoadBalancer, LoadBalancerOption } from '../balancing/load-balancer.js';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import { ConsulDiscoveryService } from '../discovery/consul-discovery.service.js';
import { ConsulOptionsError, type OptionProblem } from '../options/consul-options.error.js';
import { parseDuration } from '../options/duration.js';
import type { ResolvedConsulOptions } from '../options/resolved-options.js';
import type { ConsulClientDefinition } from './consul-client.definition.js';
import { getConsulServiceToken } from './consul-service.decorator.js';
import { ConsulGrpcClient } from './grpc/consul-grpc.client.js';
import { ConsulGrpcSource } from './grpc/consul-grpc.source.js';
import { ConsulHttpClient } from './http/consul-http.client.js';
import { ConsulClientProxy } from './proxy/consul-client.proxy.js';

/** One provider per client, under `getConsulServiceToken(service)`; each client is closed at shutdown. */
export function createConsulClientProviders(definitions: readonly ConsulClientDefinition[]): Provider[] {
  return definitions.map((definition) => ({
    provide: getConsulServiceToken(definition.service),
    inject: [ConsulDiscoveryService, ConsulGrpcSource, CONSUL_RESOLVED_OPTIONS],
    useFactory: (discovery: ConsulDiscoveryService, grpcSource: ConsulGrpcSource, options: ResolvedConsulOptions) =>
      closedAtShutdown(createClient(definition, discovery, grpcSource, options)),
  }));
}

function createClient(
  definition: ConsulClientDefinition,
  discovery: ConsulDiscoveryService,
  grpcSource: ConsulGrpcSource,
  options: ResolvedConsulOptions,
) {
  const where = `ConsulModule.forFeature() client "${definition.service}"`;
  // Each client gets its own balancer: per-service state is never shared.
  const balancer = clientBalancer(definition.loadBalancer, options, where);
  if (definition.transport === Transport.GRPC) {
    return new ConsulGrpcClient(definition.service, grpcSource.id, definition.options, balancer);
  }
  if (definition.transport === 'http') {
    const { timeout, outlier, ...rest } = definition.options ?? {};
    checkHttpPoolOptions(rest, where);
    return new ConsulHttpClient(definition.service, discovery, balancer, {
      ...rest,
      timeoutMs: timeout === undefined ? undefined : parseDuration(timeout, `${where}: options.timeout`),
      outlier: outlier && {
        consecutiveFailures: outlier.consecutiveFailures,
        cooldownMs:
          outlier.cooldown === undefined
            ? undefined
            : parseDuration(outlier.cooldown, `${where}: options.outlier.cooldown`),
      },
    });
  }
  return new ConsulClientProxy(definition.service, discovery, balancer, {
    transport: definition.transport,
    options: definition.options,
    query: definition.query,
  });
}

/** The client's own balancer, from its `loadBalancer` or else `discovery.loadBalancer` (validated with the module). */
function clientBalancer(
  option: LoadBalancerOption | undefined,
  options: ResolvedConsulOptions,
  where: string,
): LoadBalancer {
  const name = option === undefined ? 'discovery.loadBalancer' : `${where}: loadBalancer`;
  const fix = `use ${LOAD_BALANCER_STRATEGIES.map((s) => `"${s}"`).join(', ')} or a function returning a LoadBalancer`;
  if (option !== undefined && typeof option !== 'function' && !LOAD_BALANCER_STRATEGIES.includes(option)) {
    throw new ConsulOptionsError([{ option: name, problem: `${JSON.stringify(option)} is not a load balancer`, fix }]);
  }
  const balancer = createLoadBalancer(option ?? options.discovery.loadBalancer);
  // A factory is only called here: check what it made before a call runs into it.
  if (typeof balancer?.pick !== 'function') {
    throw new ConsulOptionsError([
      { option: name, problem: `the factory returned ${JSON.stringify(balancer)}, which has no pick() method`, fix },
    ]);
  }
  return balancer;
}

/** What undici would reject deep inside its Agent, said here with the option's name. */
function checkHttpPoolOptions(options: { connections?: unknown; tls?: unknown }, where: string): void {
  const problems: OptionProblem[] = [];
  const { connections, tls } = options;
  if (connections !== undefined && !(Number.isInteger(connections) && (connections as number) > 0)) {
    problems.push({
      option: `${where}: options.connections`,
      problem: `${JSON.stringify(connections)} is not a positive whole number`,
      fix: 'give the most connections to keep open per instance, e.g. 10, or leave it out for no limit',
    });
  }
  if (tls !== undefined && (typeof tls !== 'object' || tls === null || Array.isArray(tls))) {
    problems.push({
      option: `${where}: options.tls`,
      problem: `${JSON.stringify(tls)} is not an object`,
      fix: 'use { ca, cert, key } with PEM strings or Buffers (cert and key only for mutual TLS)',
    });
  }
  if (problems.length > 0) throw new ConsulOptionsError(problems);
}

function closedAtShutdown<T extends { close(): unknown }>(client: T): T {
  return Object.assign(client, { onApplicationShutdown: () => client.close() });
}
