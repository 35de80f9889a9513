import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { consulConfigProviders } from './consul-config.providers.js';
import { ConsulConfigService } from './consul-config.service.js';

/**
 * The KV configuration of one layer (`ConsulModule` or `ConsulConfigModule`): `ConsulConfigService`
 * and the change explorer, over the core's options and adapter. A layer on the core, not a part of
 * it: the core owns the options and the adapter only. Internal: apps import the layers.
 */
@Module({})
export class ConsulKvConfigModule {
  static forCore(core: DynamicModule): DynamicModule {
    return {
      module: ConsulKvConfigModule,
      imports: [core, DiscoveryModule],
      providers: consulConfigProviders,
      exports: [ConsulConfigService],
    };
  }
}
