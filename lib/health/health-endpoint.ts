import { Logger, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { LOG_CONTEXT } from '../consul.constants.js';
import { ConsulHealthService } from './consul-health.service.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { CONSUL_CHECK_USER_AGENT, ConsulCheckPulse } from './check-pulse.js';

/**
 * Serves `service.check.path` for Consul's HTTP check: 200 with the Terminus result when up,
 * 503 when down. Mounted straight on the HTTP adapter, so a global prefix, versioning or
 * guards never move or block the URL registered in Consul.
 */
export class ConsulHealthEndpoint implements OnModuleInit {
  private readonly logger = new Logger(LOG_CONTEXT.health);

  constructor(
    private readonly options: ResolvedConsulOptions,
    private readonly adapterHost: HttpAdapterHost,
    private readonly health: ConsulHealthService,
    private readonly pulse: ConsulCheckPulse,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    const check = this.options.service?.check;
    if (!adapter || !check || (check.type !== undefined && check.type !== 'http')) return;
    const { path } = check;
    // Runs after Nest mounted the app's routes and before its 404 handler, so the route is reachable.
    adapter.get(path, (req: { headers?: Record<string, unknown> }, res: unknown) => {
      if (String(req?.headers?.['user-agent'] ?? '').startsWith(CONSUL_CHECK_USER_AGENT)) this.pulse.beat('http');
      // check() never rejects: a crashing indicator is status "error".
      void this.health.check().then((result) => adapter.reply(res, result, result.status === 'ok' ? 200 : 503));
    });
    this.logger.log(`Serving the Consul health check at GET ${path}`);
  }
}
