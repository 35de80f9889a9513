import { type DynamicModule, Module } from '@nestjs/common';
import { ConsulCheckPulse } from '../registration/check-pulse.js';
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
      providers: [ConsulHealthService, ConsulCheckPulse, LazyTerminus],
      exports: [ConsulHealthService, ConsulCheckPulse, LazyTerminus],
    };
  }
}
