import { type DynamicModule, type InjectionToken, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { consulConfigProviders } from '../config/consul-config.providers.js';
import { ConsulConfigService } from '../config/consul-config.service.js';
import { ConsulApi } from '../consul-api/consul-api.js';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import type { ResolvedCoreOptions } from './consul-module.options.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';
import { REGISTRATION_STATES } from '../registration/registration-state.js';

/**
 * What every module of this package stands on, as `TypeOrmCoreModule` is for @nestjs/typeorm:
 * the validated options, the one Consul adapter ({@link ConsulApi}) and the KV configuration.
 * `ConsulModule` and `ConsulConfigModule` are thin layers over it: each hands it its own
 * options (as `forRoot()` or `forRootAsync()` defined them) and the resolver of its own
 * sections, and adds what only it does. Internal: apps import the layers.
 */
@Module({})
export class ConsulCoreModule {
  /**
   * The core of one layer. `definition` is the layer's `forRoot`/`forRootAsync` module
   * definition: its providers make `optionsToken` (and its imports what the async factory needs).
   */
  static forLayer(
    definition: DynamicModule,
    optionsToken: InjectionToken,
    resolve: (raw: never) => ResolvedCoreOptions,
  ): DynamicModule {
    return {
      module: ConsulCoreModule,
      imports: [DiscoveryModule, ...(definition.imports ?? [])],
      providers: [
        ...(definition.providers ?? []),
        // Validation runs here, when the module is created: bad options never reach Consul.
        { provide: CONSUL_RESOLVED_OPTIONS, inject: [optionsToken], useFactory: resolve },
        {
          // One per app, closed with it (onApplicationShutdown). Made while the app is created:
          // the SDK, if any, is registered by now (see ConsulMetrics.bind).
          provide: ConsulMetrics,
          useFactory: () => {
            const metrics = new ConsulMetrics(REGISTRATION_STATES);
            metrics.bind();
            return metrics;
          },
        },
        {
          provide: ConsulApi,
          inject: [CONSUL_RESOLVED_OPTIONS],
          useFactory: (options: ResolvedCoreOptions) => new ConsulApi(options.consul),
        },
        ...consulConfigProviders,
      ],
      exports: [optionsToken, CONSUL_RESOLVED_OPTIONS, ConsulApi, ConsulMetrics, ConsulConfigService],
    };
  }
}
