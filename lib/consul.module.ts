import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ConsulClient } from './client/consul.client.js';
import { CONSUL_RESOLVED_OPTIONS } from './consul.constants.js';
import { CONSUL_MODULE_OPTIONS, ConsulConfigurableModule } from './consul.module-definition.js';
import { ConsulHealthService } from './health/consul-health.service.js';
import { ConsulHealthIndicator } from './health/consul.health-indicator.js';
import type { ConsulModuleOptions } from './options/consul-options.interface.js';
import { resolveConsulOptions } from './options/options.validator.js';
import type { ResolvedConsulOptions } from './options/resolved-options.js';
import { ConsulRegistrar } from './registration/consul.registrar.js';
import { ConsulGrpcHealthController } from './registration/grpc-health.controller.js';
import { ConsulHealthEndpoint } from './registration/health-endpoint.js';

/**
 * Registers the app in Consul once it listens, with a real health check, and takes it out on
 * shutdown. `ConsulModule.forRoot({ service: { name: 'user_api' } })`, or `forRootAsync()`.
 */
@Module({
  imports: [TerminusModule],
  controllers: [ConsulGrpcHealthController],
  providers: [
    {
      // Validation runs here, when the module is created: bad options never reach Consul.
      provide: CONSUL_RESOLVED_OPTIONS,
      inject: [CONSUL_MODULE_OPTIONS],
      useFactory: (options: ConsulModuleOptions) => resolveConsulOptions(options),
    },
    {
      provide: ConsulClient,
      inject: [CONSUL_RESOLVED_OPTIONS],
      useFactory: (options: ResolvedConsulOptions) => new ConsulClient(options.consul),
    },
    ConsulHealthService,
    ConsulHealthEndpoint,
    ConsulHealthIndicator,
    ConsulRegistrar,
  ],
  exports: [ConsulClient, ConsulHealthService, ConsulHealthIndicator, ConsulRegistrar, CONSUL_RESOLVED_OPTIONS],
})
export class ConsulModule extends ConsulConfigurableModule {}
