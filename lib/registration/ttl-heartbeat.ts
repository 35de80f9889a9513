import type { Logger } from '@nestjs/common';
import type { HealthCheckResult } from '@nestjs/terminus';
import type { CheckStatus } from '../consul-api/consul-api.types.js';
import type { ConsulApi } from '../consul-api/consul-api.js';
import { isUnreachable } from '../consul-api/consul-request.error.js';
import { StateLog } from '../common/state-log.js';
import type { ConsulHealthService } from '../health/consul-health.service.js';
import type { ConsulMetrics } from '../observability/consul-metrics.js';

/** Terminus status → Consul check status. */
export function checkStatusOf(result: HealthCheckResult): CheckStatus {
  if (result.status === 'ok') return 'passing';
  return result.status === 'shutting_down' ? 'warning' : 'critical';
}

/**
 * Reports the app's health to a TTL check at about 2/3 of the TTL, so one late or lost
 * beat does not flip the check. Each beat is awaited before the next is scheduled.
 */
export class TtlHeartbeat {
  private timer?: NodeJS.Timeout;
  /** Aborted by stop(): ends a beat in flight, so shutdown never waits for it. */
  private running?: AbortController;
  private readonly states: StateLog<'ok' | 'failing' | 'unreachable'>;

  constructor(
    private readonly client: Pick<ConsulApi, 'updateTtlCheck'>,
    private readonly health: Pick<ConsulHealthService, 'check'>,
    private readonly checkId: string,
    private readonly ttlMs: number,
    /** Called when the agent no longer knows the check: the service must be registered again. */
    private readonly onForgotten: () => void,
    logger: Logger,
    /** The app's: failed beats are counted there. */
    private readonly metrics: ConsulMetrics,
  ) {
    this.states = new StateLog(logger);
  }

  /** Sends a beat now, then every 2/3 TTL. */
  start(): void {
    this.running = new AbortController();
    void this.beat(this.running.signal);
  }

  stop(): void {
    this.running?.abort();
    this.running = undefined;
    clearTimeout(this.timer);
  }

  private async beat(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    try {
      const result = await this.health.check();
      if (signal.aborted) return;
      const status = checkStatusOf(result);
      const known = await this.client.updateTtlCheck(this.checkId, status, JSON.stringify(result), { signal });
      if (!known) {
        this.stop();
        return this.onForgotten();
      }
      this.states.enter(
        'ok',
        this.states.state === 'unreachable' ? 'debug' : 'log',
        `TTL heartbeat of ${this.checkId} is being accepted`,
      );
    } catch (error) {
      if (signal.aborted) return;
      this.metrics.heartbeatFailures.add(1);
      const unreachable = isUnreachable(error); // the client has said so once for the whole app
      this.states.enter(
        unreachable ? 'unreachable' : 'failing',
        unreachable ? 'debug' : 'warn',
        `TTL heartbeat of ${this.checkId} failed, will keep trying: ${(error as Error).message}`,
      );
    }
    if (!signal.aborted) this.timer = setTimeout(() => void this.beat(signal), Math.max(100, (this.ttlMs * 2) / 3));
  }
}
