import {
  type ConfigurableModuleAsyncOptions,
  ConfigurableModuleBuilder,
  type DynamicModule,
  Module,
} from '@nestjs/common';
import { ConsulCoreModule } from '../core/consul-core.module.js';
import { ConsulKvConfigModule } from './consul-kv-config.module.js';
import { type ConsulConfigModuleOptions, resolveConfigModuleOptions } from '../core/consul-module.options.js';

export type { ConsulConfigModuleOptions } from '../core/consul-module.options.js';

const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } = new ConfigurableModuleBuilder<ConsulConfigModuleOptions>({
  moduleName: 'ConsulConfig',
})
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => {
    const core = ConsulCoreModule.forLayer(definition, MODULE_OPTIONS_TOKEN, resolveConfigModuleOptions);
    const config = ConsulKvConfigModule.forCore(core);
    return { module: definition.module, global: extras.isGlobal, imports: [core, config], exports: [core, config] };
  })
  .build();

/**
 * Configuration from Consul KV for apps that do not register in Consul:
 * `ConsulConfigModule.forRoot({ config })`. A layer over the core, like `ConsulModule`: it
 * validates only its own sections (`consul`, `config`, `discovery` watch settings).
 */
@Module({})
export class ConsulConfigModule extends ConfigurableModuleClass {
  // Spelled out, as ConsulModule's, so the published declarations and the API report show them.

  /** Configuration from Consul KV, without registration. Global unless `isGlobal: false`. */
  static override forRoot(options: ConsulConfigModuleOptions & Partial<{ isGlobal: boolean }>): DynamicModule {
    return super.forRoot(options);
  }

  /** `forRoot()` with options from a factory (`useFactory`, `inject`, `imports`), `useClass` or `useExisting`. */
  static override forRootAsync(
    options: ConfigurableModuleAsyncOptions<ConsulConfigModuleOptions, 'create'> & Partial<{ isGlobal: boolean }>,
  ): DynamicModule {
    return super.forRootAsync(options);
  }
}
