import { ConsulApi } from '../consul-api/consul-api.js';
import { type ConsulConfigModuleOptions, resolveConfigModuleOptions } from '../core/consul-module.options.js';
import { configWatchSettings } from './consul-config.providers.js';
import { ConsulConfigService } from './consul-config.service.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';

/**
 * A loader for `@nestjs/config`: `ConfigModule.forRoot({ load: [consulConfigLoader({ config: { app: 'user_api' } })] })`.
 * Reads Consul KV once at boot, so `ConfigService` sees it; for live changes use `ConsulConfigService`.
 */
export function consulConfigLoader(options: ConsulConfigModuleOptions): () => Promise<Record<string, unknown>> {
  return async () => {
    const resolved = resolveConfigModuleOptions(options);
    const client = new ConsulApi(resolved.consul);
    try {
      const service = await ConsulConfigService.load(
        client,
        { ...resolved.config!, watch: false },
        configWatchSettings(resolved),
        new ConsulMetrics(), // a one-off read before any app exists: nothing to report, nothing kept
      );
      return service.snapshot();
    } finally {
      client.close();
    }
  };
}
