import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ConsulApi } from './consul-api/consul-api.js';
import type { ConsulClientDefinition } from './clients/consul-client.definition.js';
import { createConsulClientProviders } from './clients/consul-clients.providers.js';
import { ConsulGrpcSource } from './clients/grpc/consul-grpc.source.js';
import { consulConfigProviders } from './config/consul-config.providers.js';
import { ConsulConfigService } from './config/consul-config.service.js';
import { CONSUL_RESOLVED_OPTIONS } from './consul.constants.js';
import { CONSUL_MODULE_OPTIONS, ConsulConfigurableModule } from './consul.module-definition.js';
import { ConsulDiscoveryService } from './discovery/consul-discovery.service.js';
import { ConsulHealthService } from './health/consul-health.service.js';
import { ConsulHealthIndicator } from './health/consul.health-indicator.js';
import type { ConsulModuleOptions } from './options/consul-options.interface.js';
import { resolveConsulOptions } from './options/options.validator.js';
import type { ResolvedConsulOptions } from './options/resolved-options.js';
import { ConsulCheckPulse } from './registration/check-pulse.js';
import { ConsulRegistrar } from './registration/consul.registrar.js';
import { ConsulGrpcHealthController } from './registration/grpc-health.controller.js';
import { ConsulHealthEndpoint } from './registration/health-endpoint.js';

/**
 * Registers the app in Consul once it listens, with a real health check, takes it out on
 * shutdown, and discovers other services. `ConsulModule.forRoot({ service: { name: 'user_api' } })`,
 * or `forRootAsync()`; typed clients per module with `ConsulModule.forFeature([...])`.
 */
@Module({
  imports: [TerminusModule, DiscoveryModule],
  controllers: [ConsulGrpcHealthController],
  providers: [
    {
      // Validation runs here, when the module is created: bad options never reach Consul.
      provide: CONSUL_RESOLVED_OPTIONS,
      inject: [CONSUL_MODULE_OPTIONS],
      useFactory: (options: ConsulModuleOptions) => resolveConsulOptions(options),
    },
    {
      provide: ConsulApi,
      inject: [CONSUL_RESOLVED_OPTIONS],
      useFactory: (options: ResolvedConsulOptions) => new ConsulApi(options.consul),
    },
    ConsulHealthService,
    ConsulCheckPulse,
    ConsulHealthEndpoint,
    ConsulHealthIndicator,
    ConsulRegistrar,
    ConsulDiscoveryService,
    ConsulGrpcSource,
    ...consulConfigProviders,
  ],
  exports: [
    ConsulConfigService,
    ConsulApi,
    ConsulHealthService,
    ConsulHealthIndicator,
    ConsulRegistrar,
    ConsulDiscoveryService,
    ConsulGrpcSource,
    CONSUL_RESOLVED_OPTIONS,
  ],
})
export class ConsulModule extends ConsulConfigurableModule {
  /**
   * Typed clients for discovered services, injected with `@ConsulService(name)`. Needs
   * `ConsulModule.forRoot()` in the app (global by default).
   */
  static forFeature(clients: ConsulClientDefinition[]): DynamicModule {
    const providers = createConsulClientProviders(clients);
    return { module: ConsulFeatureModule, providers, exports: providers };
  }
}

/** Holds the clients of one `forFeature()` call. */
@Module({})
class ConsulFeatureModule {}
