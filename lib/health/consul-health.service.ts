import { type BeforeApplicationShutdown, ServiceUnavailableException } from '@nestjs/common';
import type { HealthCheckResult, HealthIndicatorFunction } from '@nestjs/terminus';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { LazyTerminus } from './lazy-terminus.js';

/**
 * The app's health as Consul sees it: one place that runs the Terminus indicators, read by
 * the HTTP health endpoint, the TTL heartbeat and the gRPC health service alike.
 */
export class ConsulHealthService implements BeforeApplicationShutdown {
  private readonly indicators: HealthIndicatorFunction[];
  private shuttingDown = false;

  /** @internal Nest builds it; inject it instead. */
  constructor(
    private readonly terminus: LazyTerminus,
    options: ResolvedConsulOptions,
  ) {
    this.indicators = [...options.health.indicators];
  }

  /** Adds an indicator at run time (e.g. from a feature module's `onModuleInit`). */
  addIndicator(indicator: HealthIndicatorFunction): void {
    this.indicators.push(indicator);
  }

  /** Runs every indicator. Never throws: a failing or crashing indicator gives status `error`. */
  async check(): Promise<HealthCheckResult> {
    const result = await this.runIndicators();
    // Terminus's own rule (its executor's last word), applied here: Nest does not call the shutdown
    // hooks of a module loaded lazily, so Terminus would not know.
    return this.shuttingDown ? { ...result, status: 'shutting_down' } : result;
  }

  private async runIndicators(): Promise<HealthCheckResult> {
    // Without indicators, Terminus's answer is this one: not worth loading it for.
    if (this.indicators.length === 0) return { status: 'ok', info: {}, error: {}, details: {} };
    try {
      const { healthCheck } = await this.terminus.load();
      return await healthCheck.check(this.indicators);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) return error.getResponse() as HealthCheckResult;
      const message = error instanceof Error ? error.message : String(error);
      return { status: 'error', info: {}, error: { health: { status: 'down', message } }, details: {} };
    }
  }

  /** From here on the app reports `shutting_down`, as Terminus does. */
  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
  }
}
