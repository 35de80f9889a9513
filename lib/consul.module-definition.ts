import { type ConfigurableModuleAsyncOptions, ConfigurableModuleBuilder } from '@nestjs/common';
import { ConsulKvConfigModule } from './config/consul-kv-config.module.js';
import { ConsulCoreModule } from './core/consul-core.module.js';
import { type ConsulModuleOptions, resolveConsulOptions } from './core/consul-module.options.js';
import { ConsulHealthModule } from './health/consul-health.module.js';
import { ConsulGrpcHealthModule } from './registration/grpc-health.module.js';
import { REGISTRATION_STATES } from './registration/registration-state.js';

export const {
  ConfigurableModuleClass: ConsulConfigurableModule,
  MODULE_OPTIONS_TOKEN: CONSUL_MODULE_OPTIONS,
  OPTIONS_TYPE: CONSUL_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: CONSUL_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ConsulModuleOptions>({ moduleName: 'Consul' })
  .setClassMethodName('forRoot')
  // Global by default, like @nestjs/typeorm's root module: forFeature() clients need its discovery.
  // The options go to the core, which validates them and shares the adapter; the health and the KV
  // configuration attach to it; the layer re-exports them.
  .setExtras({ isGlobal: true }, (definition, extras) => {
    const core = ConsulCoreModule.forLayer(
      definition,
      CONSUL_MODULE_OPTIONS,
      resolveConsulOptions,
      REGISTRATION_STATES,
    );
    const health = ConsulHealthModule.forCore(core);
    const config = ConsulKvConfigModule.forCore(core);
    return {
      module: definition.module,
      global: extras.isGlobal,
      imports: [core, health, config, ConsulGrpcHealthModule.forCore(core, health)],
      exports: [core, health, config],
    };
  })
  .build();

/**
 * What `ConsulModule.forRootAsync()` takes: Nest's async options (`useFactory`, `inject`,
 * `imports`, `useClass`, `useExisting`) for {@link ConsulModuleOptions}, plus `isGlobal`.
 */
// Spelled out with Nest's public types rather than `typeof CONSUL_ASYNC_OPTIONS_TYPE`, a value the
// package does not export, so that the API report shows it.
export type ConsulModuleAsyncOptions = ConfigurableModuleAsyncOptions<ConsulModuleOptions, 'create'> &
  Partial<{ isGlobal: boolean }>;
