import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, HttpAdapterHost, MetadataScanner, Reflector } from '@nestjs/core';
import type { ConsulClientDefinition } from './clients/consul-client.options.js';
import { createConsulClientProviders } from './clients/consul-clients.providers.js';
import { getConsulServiceToken } from './clients/consul-service.decorator.js';
import { ConsulGrpcSource } from './clients/grpc/consul-grpc.source.js';
import { constructed } from './common/constructed.js';
import { ConsulApi } from './consul-api/consul-api.js';
import { CONSUL_INSTANCE_IDENTITY, CONSUL_RESOLVED_OPTIONS } from './consul.constants.js';
import { ConsulConfigurableModule, type ConsulModuleAsyncOptions } from './consul.module-definition.js';
import type { ConsulModuleOptions } from './core/consul-module.options.js';
import { ConsulDiscoveryService } from './discovery/consul-discovery.service.js';
import { ConsulHealthIndicator } from './health/consul.health-indicator.js';
import { ConsulHealthService } from './health/consul-health.service.js';
import { LazyTerminus } from './health/lazy-terminus.js';
import { ConsulCheckPulse } from './health/check-pulse.js';
import { ConsulRegistrar } from './registration/consul.registrar.js';
import { ConsulHealthEndpoint } from './health/health-endpoint.js';
import { ConsulLeaderExplorer } from './locks/consul-leader.explorer.js';
import { ConsulLeaderService } from './locks/consul-leader.service.js';
import { ConsulLockService } from './locks/consul-lock.service.js';
import { ConsulSessionManager } from './locks/consul-session.js';
import { ConsulSemaphoreService } from './locks/consul-semaphore.service.js';
import { ConsulStatusService } from './consul-status.service.js';
import { ConsulMetrics } from './observability/consul-metrics.js';
import { ConsulConnect } from './connect/consul-connect.service.js';

/**
 * Registers the app in Consul once it listens, with a real health check, takes it out on
 * shutdown, and discovers other services. `ConsulModule.forRoot({ service: { name: 'user_api' } })`,
 * or `forRootAsync()`; typed clients per module with `ConsulModule.forFeature([...])`.
 */
@Module({
  imports: [DiscoveryModule],
  // The options, the adapter and the configuration come from the core, the app's health from the
  // health module, and the gRPC health service from its own module (see consul.module-definition.ts).
  // Our classes are constructed() from listed dependencies: Nest does not reflect them at start-up.
  providers: [
    constructed(ConsulHealthEndpoint, [
      CONSUL_RESOLVED_OPTIONS,
      HttpAdapterHost,
      ConsulHealthService,
      ConsulCheckPulse,
    ]),
    constructed(ConsulHealthIndicator, [ConsulApi, LazyTerminus]),
    constructed(ConsulRegistrar, [
      CONSUL_RESOLVED_OPTIONS,
      ConsulApi,
      ConsulHealthService,
      HttpAdapterHost,
      ConsulCheckPulse,
      ConsulMetrics,
    ]),
    // What the locks tie to: the registrar, seen through the narrow contract of core/instance-identity.ts.
    // An alias (Nest runs no lifecycle hook twice for it). The registrar does not say `implements`:
    // attachCheck() is internal, so the published declarations could not show it; the compiler
    // checks the fit in lib/registration/instance-identity.spec.ts.
    { provide: CONSUL_INSTANCE_IDENTITY, useExisting: ConsulRegistrar },
    constructed(ConsulDiscoveryService, [ConsulApi, CONSUL_RESOLVED_OPTIONS, ConsulMetrics]),
    // Connect native: idle unless connect.native is on.
    constructed(ConsulConnect, [CONSUL_RESOLVED_OPTIONS, ConsulApi, { token: HttpAdapterHost, optional: true }]),
    constructed(ConsulGrpcSource, [ConsulDiscoveryService]),
    // Locks: nothing reaches Consul until a lock or an election is used.
    constructed(ConsulSessionManager, [CONSUL_RESOLVED_OPTIONS, ConsulApi, CONSUL_INSTANCE_IDENTITY, ConsulMetrics]),
    constructed(ConsulLockService, [
      CONSUL_RESOLVED_OPTIONS,
      ConsulApi,
      ConsulSessionManager,
      CONSUL_INSTANCE_IDENTITY,
    ]),
    constructed(ConsulLeaderService, [CONSUL_RESOLVED_OPTIONS, ConsulLockService, ConsulSessionManager, ConsulMetrics]),
    constructed(ConsulLeaderExplorer, [DiscoveryService, MetadataScanner, Reflector, ConsulLeaderService]),
    constructed(ConsulSemaphoreService, [CONSUL_RESOLVED_OPTIONS, ConsulApi, ConsulSessionManager, ConsulLockService]),
    constructed(ConsulStatusService, [
      ConsulMetrics,
      { token: ConsulRegistrar, optional: true },
      { token: ConsulLeaderService, optional: true },
    ]),
  ],
  exports: [
    ConsulStatusService,
    ConsulConnect,
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
  // forRoot()/forRootAsync() only call the builder's: spelled out so their signatures are part of the
  // published declarations and the API report (the builder's base class is not an export).

  /** The app's Consul module: registration, discovery, configuration, locks. Global unless `isGlobal: false`. */
  static override forRoot(options: ConsulModuleOptions & Partial<{ isGlobal: boolean }>): DynamicModule {
    return super.forRoot(options);
  }

  /** `forRoot()` with options from a factory (`useFactory`, `inject`, `imports`), `useClass` or `useExisting`. */
  static override forRootAsync(options: ConsulModuleAsyncOptions): DynamicModule {
    return super.forRootAsync(options);
  }

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
