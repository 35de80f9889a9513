import { type DynamicModule, Module } from '@nestjs/common';
import { LazyModuleLoader } from '@nestjs/core';
import { constructed } from '../common/constructed.js';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import { ConsulCheckPulse } from './check-pulse.js';
import { ConsulHealthService } from './consul-health.service.js';
import { LazyTerminus } from './lazy-terminus.js';

/**
 * The app's health as Consul sees it, shared by everything that answers or reports Consul's
 * check: the HTTP health endpoint and the registrar (in `ConsulModule`) and the gRPC health
 * service (in its own module, loaded only where gRPC can be served). One per `forRoot()`.
 */
@Module({})
export class ConsulHealthModule {
  static forCore(core: DynamicModule): DynamicModule {
    return {
      module: ConsulHealthModule,
      imports: [core],
      providers: [
        constructed(ConsulHealthService, [LazyTerminus, CONSUL_RESOLVED_OPTIONS]),
        constructed(ConsulCheckPulse, []),
        constructed(LazyTerminus, [LazyModuleLoader]),
      ],
      exports: [ConsulHealthService, ConsulCheckPulse, LazyTerminus],
    };
  }
}
