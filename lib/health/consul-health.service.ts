import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, type HealthCheckResult, type HealthIndicatorFunction } from '@nestjs/terminus';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';

/**
 * The app's health as Consul sees it: one place that runs the Terminus indicators, read by
 * the HTTP health endpoint, the TTL heartbeat and the gRPC health service alike.
 */
@Injectable()
export class ConsulHealthService {
  private readonly indicators: HealthIndicatorFunction[];

  constructor(
    private readonly terminus: HealthCheckService,
    @Inject(CONSUL_RESOLVED_OPTIONS) options: ResolvedConsulOptions,
  ) {
    this.indicators = [...options.health.indicators];
  }

  /** Adds an indicator at run time (e.g. from a feature module's `onModuleInit`). */
  addIndicator(indicator: HealthIndicatorFunction): void {
    this.indicators.push(indicator);
  }

  /** Runs every indicator. Never throws: a failing or crashing indicator gives status `error`. */
  async check(): Promise<HealthCheckResult> {
    try {
      return await this.terminus.check(this.indicators);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) return error.getResponse() as HealthCheckResult;
      const message = error instanceof Error ? error.message : String(error);
      return { status: 'error', info: {}, error: { health: { status: 'down', message } }, details: {} };
    }
  }
}
