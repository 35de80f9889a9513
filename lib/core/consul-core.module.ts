import { type DynamicModule, type InjectionToken, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConsulApi } from '../consul-api/consul-api.js';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import type { ResolvedCoreOptions } from './consul-module.options.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';

/**
 * What every module of this package stands on, as `TypeOrmCoreModule` is for @nestjs/typeorm:
 * the validated options and the one Consul adapter ({@link ConsulApi}). The KV configuration, the
 * app's health and the locks attach to it from their own folders. `ConsulModule` and
 * `ConsulConfigModule` are thin layers over it: each hands it its own
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
    /** The registrar's states, for the state gauge; none for a layer that registers nothing. */
    registrationStates: readonly string[] = [],
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
            const metrics = new ConsulMetrics(registrationStates);
            metrics.bind();
            return metrics;
          },
        },
        {
          provide: ConsulApi,
          inject: [CONSUL_RESOLVED_OPTIONS],
          useFactory: (options: ResolvedCoreOptions) => new ConsulApi(options.consul),
        },
      ],
      exports: [optionsToken, CONSUL_RESOLVED_OPTIONS, ConsulApi, ConsulMetrics],
    };
  }
}
