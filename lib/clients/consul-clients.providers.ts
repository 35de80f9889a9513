import type { Provider } from '@nestjs/common';
import { createLoadBalancer } from '../balancing/create-load-balancer.js';
import type { LoadBalancer } from '../balancing/load-balancer.js';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import { ConsulConnect } from '../connect/consul-connect.service.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { ConsulDiscoveryService } from '../discovery/consul-discovery.service.js';
import { loadMicroservices, requireMicroservices } from '../common/optional-peers.js';
import { ConsulOptionsError } from '../options/consul-options.error.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';
import {
  type ConsulClientDefinition,
  type ResolvedClientDefinition,
  resolveClientDefinitions,
} from './consul-client.options.js';
import { getConsulServiceToken } from './consul-service.decorator.js';
import { type ConsulGrpcClient, createConsulGrpcClient } from './grpc/consul-grpc.client.js';
import { ConsulGrpcSource } from './grpc/consul-grpc.source.js';
import { ConsulHttpClient } from './http/consul-http.client.js';
import { ConsulClientProxy } from './proxy/consul-client.proxy.js';

let nextFeatureId = 0;

/**
 * One provider per client, under `getConsulServiceToken(service)`, each closed at shutdown; and
 * one that validates all the clients of this `forFeature()` call at once, when the app is created.
 */
export function createConsulClientProviders(definitions: readonly ConsulClientDefinition[]): Provider[] {
  const validated = `CONSUL:FEATURE:${++nextFeatureId}`;
  return [
    {
      provide: validated,
      inject: [CONSUL_RESOLVED_OPTIONS],
      useFactory: async (options: ResolvedConsulOptions) =>
        resolveClientDefinitions(definitions, (await loadMicroservices())?.Transport, {
          connectNative: options.connect.native,
        }),
    },
    ...definitions.map((definition, i) => ({
      provide: getConsulServiceToken(definition.service),
      inject: [
        validated,
        ConsulDiscoveryService,
        ConsulGrpcSource,
        CONSUL_RESOLVED_OPTIONS,
        ConsulMetrics,
        ConsulConnect,
      ],
      useFactory: (
        resolved: ResolvedClientDefinition[],
        discovery: ConsulDiscoveryService,
        grpcSource: ConsulGrpcSource,
        options: ResolvedConsulOptions,
        metrics: ConsulMetrics,
        connect: ConsulConnect,
      ) => createClient(resolved[i], discovery, grpcSource, options, metrics, connect).then(closedAtShutdown),
    })),
  ];
}

async function createClient(
  definition: ResolvedClientDefinition,
  discovery: ConsulDiscoveryService,
  grpcSource: ConsulGrpcSource,
  options: ResolvedConsulOptions,
  metrics: ConsulMetrics,
  connect: ConsulConnect,
): Promise<ConsulHttpClient | ConsulGrpcClient | ConsulClientProxy> {
  // Each client gets its own balancer: per-service state is never shared.
  const balancer = clientBalancer(definition, options);
  if (definition.transport === 'http') {
    // A Connect client calls as the app: its identity is the leaf of the app's own service
    // (validation made sure the app runs Connect native, so there is one).
    const identity = definition.options.connect ? connect.certificates(options.service!.name) : undefined;
    return new ConsulHttpClient(definition.service, discovery, balancer, definition.options, metrics, identity);
  }
  // Not HTTP: the transports are Nest's, and the resolver made sure @nestjs/microservices is there.
  const { Transport } = await requireMicroservices('ConsulModule.forFeature()');
  if (definition.transport === Transport.GRPC) {
    const { connect: viaConnect, ...grpcOptions } = definition.options;
    // Over Connect: the instances that take Connect calls, and the mesh's mTLS with this app's leaf.
    const connected = viaConnect
      ? {
          ...grpcOptions,
          query: { ...grpcOptions.query, connect: true },
          credentials: connect.grpcChannelCredentials(definition.service),
        }
      : grpcOptions;
    return createConsulGrpcClient(definition.service, grpcSource.id, connected, balancer);
  }
  return new ConsulClientProxy(definition.service, discovery, balancer, {
    transport: definition.transport,
    options: definition.options,
    query: definition.query,
  });
}

/**
 * The client's own balancer, from its `loadBalancer` or else `discovery.loadBalancer` (both
 * validated with their options). A factory is only called here: check what it made before a
 * call runs into it.
 */
function clientBalancer(definition: ResolvedClientDefinition, options: ResolvedConsulOptions): LoadBalancer {
  const balancer = createLoadBalancer(definition.loadBalancer ?? options.discovery.loadBalancer);
  if (typeof balancer?.pick !== 'function') {
    const option =
      definition.loadBalancer === undefined
        ? 'discovery.loadBalancer'
        : `ConsulModule.forFeature() client "${definition.service}": loadBalancer`;
    throw new ConsulOptionsError([
      {
        option,
        problem: `the factory returned ${JSON.stringify(balancer)}, which has no pick() method`,
        fix: 'return an object with pick(instances) (and start(instance) to count calls)',
      },
    ]);
  }
  return balancer;
}

function closedAtShutdown<T extends { close(): unknown }>(client: T): T {
  return Object.assign(client, { onApplicationShutdown: () => client.close() });
}
