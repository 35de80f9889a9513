import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ConsulModuleOptions } from './options/consul-options.interface.js';

export const {
  ConfigurableModuleClass: ConsulConfigurableModule,
  MODULE_OPTIONS_TOKEN: CONSUL_MODULE_OPTIONS,
  OPTIONS_TYPE: CONSUL_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: CONSUL_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ConsulModuleOptions>({ moduleName: 'Consul' })
  .setClassMethodName('forRoot')
  // Global by default, like @nestjs/typeorm's root module: forFeature() clients need its discovery.
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
