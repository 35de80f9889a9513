import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { ConsulClientDefinition } from './clients/consul-client.options.js';
import { createConsulClientProviders } from './clients/consul-clients.providers.js';
import { getConsulServiceToken } from './clients/consul-service.decorator.js';
import { ConsulGrpcSource } from './clients/grpc/consul-grpc.source.js';
import { ConsulConfigurableModule } from './consul.module-definition.js';
import { ConsulDiscoveryService } from './discovery/consul-discovery.service.js';
import { ConsulHealthIndicator } from './health/consul.health-indicator.js';
import { ConsulRegistrar } from './registration/consul.registrar.js';
import { ConsulHealthEndpoint } from './registration/health-endpoint.js';
import { ConsulLeaderExplorer } from './locks/consul-leader.explorer.js';
import { ConsulLeaderService } from './locks/consul-leader.service.js';
import { ConsulLockService } from './locks/consul-lock.service.js';
import { ConsulSessionManager } from './locks/consul-session.js';
import { ConsulSemaphoreService } from './locks/consul-semaphore.service.js';
import { ConsulStatusService } from './observability/consul-status.service.js';

/**
 * Registers the app in Consul once it listens, with a real health check, takes it out on
 * shutdown, and discovers other services. `ConsulModule.forRoot({ service: { name: 'user_api' } })`,
 * or `forRootAsync()`; typed clients per module with `ConsulModule.forFeature([...])`.
 */
@Module({
  imports: [DiscoveryModule],
  // The options, the adapter and the configuration come from the core, the app's health from the
  // health module, and the gRPC health service from its own module (see consul.module-definition.ts).
  providers: [
    ConsulHealthEndpoint,
    ConsulHealthIndicator,
    ConsulRegistrar,
    ConsulDiscoveryService,
    ConsulGrpcSource,
    // Locks: nothing reaches Consul until a lock or an election is used.
    ConsulSessionManager,
    ConsulLockService,
    ConsulLeaderService,
    ConsulLeaderExplorer,
    ConsulSemaphoreService,
    ConsulStatusService,
  ],
  exports: [
    ConsulStatusService,
    ConsulHealthIndicator,
    ConsulRegistrar,
    ConsulDiscoveryService,
    ConsulGrpcSource,
    ConsulLockService,
    ConsulLeaderService,
    ConsulSemaphoreService,
  ],
})
export class ConsulModule extends ConsulConfigurableModule {
  /**
   * Typed clients for discovered services, injected with `@ConsulService(name)`. Needs
   * `ConsulModule.forRoot()` in the app (global by default).
   */
  static forFeature(clients: ConsulClientDefinition[]): DynamicModule {
    const providers = createConsulClientProviders(clients);
    return {
      module: ConsulFeatureModule,
      providers,
      exports: clients.map(({ service }) => getConsulServiceToken(service)),
    };
  }
}

/** Holds the clients of one `forFeature()` call. */
@Module({})
class ConsulFeatureModule {}
