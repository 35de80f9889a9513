import type { Provider } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { constructed } from '../common/constructed.js';
import { ConsulApi } from '../consul-api/consul-api.js';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import type { ResolvedCoreOptions } from '../core/consul-module.options.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';
import { ConsulConfigExplorer } from './consul-config.explorer.js';
import { ConsulConfigService, type ConfigWatchSettings } from './consul-config.service.js';

/** How config watches behave: the same wait, rate limit, consistency and retry as discovery's watches. */
export function configWatchSettings({ discovery }: Pick<ResolvedCoreOptions, 'discovery'>): ConfigWatchSettings {
  return {
    waitMs: discovery.waitMs,
    rateLimit: discovery.rateLimit,
    stale: discovery.consistency === 'stale',
    backoff: { initialMs: discovery.retry.initialDelayMs, maxMs: discovery.retry.maxDelayMs },
  };
}

/** `ConsulConfigService` (loaded before anything that injects it is created) and the change explorer. */
export const consulConfigProviders: Provider[] = [
  {
    provide: ConsulConfigService,
    inject: [ConsulApi, CONSUL_RESOLVED_OPTIONS, ConsulMetrics],
    useFactory: (client: ConsulApi, options: ResolvedCoreOptions, metrics: ConsulMetrics) =>
      options.config
        ? ConsulConfigService.load(client, options.config, configWatchSettings(options), metrics)
        : ConsulConfigService.disabled(),
  },
  constructed(ConsulConfigExplorer, [DiscoveryService, MetadataScanner, Reflector, ConsulConfigService]),
];
