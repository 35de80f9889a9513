import { ConfigurableModuleBuilder, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConsulApi } from '../consul-api/consul-api.js';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import type { ConsulConnectionOptions, ConsulDiscoveryOptions } from '../options/consul-options.interface.js';
import { ConsulOptionsError } from '../options/consul-options.error.js';
import { resolveConsulOptions, Validator } from '../options/options.validator.js';
import type { ResolvedConsulOptions } from '../options/resolved-options.js';
import { type ConsulConfigOptions, resolveConfigOptions } from './consul-config.options.js';
import { consulConfigProviders } from './consul-config.providers.js';
import { ConsulConfigService } from './consul-config.service.js';

/** Options of the standalone `ConsulConfigModule`: no service registration, just configuration. */
export interface ConsulConfigModuleOptions {
  consul?: ConsulConnectionOptions;
  config: ConsulConfigOptions;
  /** Only `wait` and `rateLimit` matter here: they shape the config watches. */
  discovery?: Pick<ConsulDiscoveryOptions, 'wait' | 'rateLimit'>;
}

const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } = new ConfigurableModuleBuilder<ConsulConfigModuleOptions>({
  moduleName: 'ConsulConfig',
})
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

/** Validates like `ConsulModule` does, minus the service: contexts use `config.app` only if given. */
export function resolveConfigModuleOptions(options: ConsulConfigModuleOptions): ResolvedConsulOptions {
  if (!options || typeof options !== 'object' || options.config === undefined) {
    throw new ConsulOptionsError([
      { option: 'config', problem: 'is required', fix: 'pass { config: { app: "my_app" } }' },
    ]);
  }
  // Registration is not part of this module: a placeholder service keeps the shared validator whole.
  const resolved = resolveConsulOptions({ ...options, service: { name: 'config-only' }, config: undefined });
  const v = new Validator();
  const config = resolveConfigOptions(v, options.config, undefined);
  v.throwIfAny();
  return { ...resolved, config };
}

/** Configuration from Consul KV for apps that do not register in Consul: `ConsulConfigModule.forRoot({ config })`. */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: CONSUL_RESOLVED_OPTIONS, inject: [MODULE_OPTIONS_TOKEN], useFactory: resolveConfigModuleOptions },
    {
      provide: ConsulApi,
      inject: [CONSUL_RESOLVED_OPTIONS],
      useFactory: (options: ResolvedConsulOptions) => new ConsulApi(options.consul),
    },
    ...consulConfigProviders,
  ],
  exports: [ConsulConfigService],
})
export class ConsulConfigModule extends ConfigurableModuleClass {}
