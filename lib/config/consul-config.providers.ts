import type { Provider } from '@nestjs/common';
import { ConsulApi } from '../consul-api/consul-api.js';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import type { ResolvedConsulOptions } from '../options/resolved-options.js';
import { ConsulConfigExplorer } from './consul-config.explorer.js';
import { ConsulConfigService, type ConfigWatchSettings } from './consul-config.service.js';

/** How config watches behave: the same wait, rate limit and consistency as discovery. */
export function configWatchSettings(
  options: Pick<ResolvedConsulOptions, 'discovery' | 'registration'>,
): ConfigWatchSettings {
  return {
    waitMs: options.discovery.waitMs,
    rateLimit: options.discovery.rateLimit,
    stale: options.discovery.consistency === 'stale',
    backoff: {
      initialMs: Math.min(options.registration.retry.initialDelayMs, 1_000),
      maxMs: options.registration.retry.maxDelayMs,
    },
  };
}

/** `ConsulConfigService` (loaded before anything that injects it is created) and the change explorer. */
export const consulConfigProviders: Provider[] = [
  {
    provide: ConsulConfigService,
    inject: [ConsulApi, CONSUL_RESOLVED_OPTIONS],
    useFactory: (client: ConsulApi, options: ResolvedConsulOptions) =>
      options.config
        ? ConsulConfigService.load(client, options.config, configWatchSettings(options))
        : ConsulConfigService.disabled(),
  },
  ConsulConfigExplorer,
];
