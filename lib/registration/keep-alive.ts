import type { Logger } from '@nestjs/common';
import { Backoff } from '../common/backoff.js';
import type { ConsulApi } from '../consul-api/consul-api.js';
import type { ConsulHealthService } from '../health/consul-health.service.js';
import type { ConsulCheckPulse } from '../health/check-pulse.js';
import { checkIdOf, type InstanceEndpoint } from './service-definition.js';
import { TtlHeartbeat } from './ttl-heartbeat.js';
import type { ConsulMetrics } from '../observability/consul-metrics.js';

/** What the keep-alive learns about the registration; the registrar turns it into state. */
export interface KeepAliveEvents {
  /** The agent still has the instance. */
  confirmed(): void;
  /** The agent could not be asked (it erred, or did not answer): asking again in `retryInMs`. */
  unconfirmed(error: unknown, retryInMs: number): void;
  /** The agent no longer knows the instance. The keep-alive has stopped. */
  forgotten(): void;
  /**
   * Consul has run the check once by now: register the same definition again. The agent keeps the
   * check's status and output and syncs them to the catalog at once; otherwise the catalog would show
   * the registered status with no output until the agent's check_update_interval (minutes).
   */
  firstCheckRan(): void;
}

export interface KeepAliveSettings {
  reconcileIntervalMs: number;
  /** `registration.retry`: how soon a failed reconcile read is tried again. */
  retry: { initialDelayMs: number; maxDelayMs: number; factor: number };
  /** For checks whose calls reach the app (http, grpc): their interval. Undefined for tcp, ttl, none. */
  checkIntervalMs?: number;
  /** For checks Consul polls (http, tcp, grpc): their interval, by which the first run has happened. */
  pollIntervalMs?: number;
  ttlMs: number;
}

export interface KeepAliveDeps {
  client: Pick<ConsulApi, 'agentService' | 'updateTtlCheck'>;
  health: Pick<ConsulHealthService, 'check'>;
  pulse: ConsulCheckPulse;
  /** The app's metrics (heartbeat failures). */
  metrics: ConsulMetrics;
  logger: Logger;
}

/** Slack on top of two check intervals before silence means something: a busy agent runs checks late. */
const PULSE_SLACK_MS = 1_000;

/**
 * Keeps one registration alive: asks the agent every `reconcileIntervalMs` whether it still has the
 * instance (again after a backoff step when the read fails), heartbeats a TTL check, and asks at once
 * when Consul's own check stops calling the app for two intervals (the agent forgot it).
 */
export class KeepAlive {
  private readonly running = new AbortController();
  private readonly backoff: Backoff;
  private readonly heartbeat?: TtlHeartbeat;
  private timer?: NodeJS.Timeout;
  private silence?: NodeJS.Timeout;
  private firstRun?: NodeJS.Timeout;
  private stopPulse?: () => void;
  private reconciling = false;
  /** Asked for while a read was in flight: that read may have been answered before what prompted this. */
  private askAgain = false;

  constructor(
    private readonly deps: KeepAliveDeps,
    private readonly endpoint: InstanceEndpoint,
    private readonly settings: KeepAliveSettings,
    private readonly events: KeepAliveEvents,
  ) {
    const { initialDelayMs, maxDelayMs, factor } = settings.retry;
    this.backoff = new Backoff(initialDelayMs, maxDelayMs, factor);
    if (endpoint.checkType === 'ttl') {
      this.heartbeat = new TtlHeartbeat(
        deps.client,
        deps.health,
        checkIdOf(endpoint.id),
        settings.ttlMs,
        () => this.forgotten(),
        deps.logger,
        deps.metrics,
      );
    }
  }

  start(): void {
    this.schedule(this.settings.reconcileIntervalMs);
    this.heartbeat?.start();
    if (this.settings.pollIntervalMs !== undefined) {
      // Consul runs a new check after a random stagger of up to one interval.
      this.firstRun = setTimeout(() => this.events.firstCheckRan(), this.settings.pollIntervalMs + PULSE_SLACK_MS);
    }
    const interval = this.settings.checkIntervalMs;
    const kind = this.endpoint.checkType;
    if (interval !== undefined && (kind === 'http' || kind === 'grpc')) {
      // One timer, pushed back by every call of Consul's check; it fires only when they stop.
      this.silence = setTimeout(() => this.reconcileNow(), 2 * interval + PULSE_SLACK_MS);
      this.silence.unref();
      this.stopPulse = this.deps.pulse.onBeat(kind, () => this.silence?.refresh());
    }
  }

  /** Stops every timer and cancels a read or beat in flight. */
  stop(): void {
    this.running.abort();
    clearTimeout(this.timer);
    clearTimeout(this.silence);
    clearTimeout(this.firstRun);
    this.stopPulse?.();
    this.heartbeat?.stop();
  }

  /** Asks the agent now (it answered again after an outage, or its check went silent). */
  reconcileNow(): void {
    if (this.running.signal.aborted) return;
    // The silence timer fires once, and the agent comes back once: neither may be lost to a read
    // already in flight (answered by the agent before it restarted, it would say all is well).
    if (this.reconciling) {
      this.askAgain = true;
      return;
    }
    clearTimeout(this.timer);
    void this.reconcile();
  }

  private schedule(ms: number): void {
    if (this.running.signal.aborted) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reconcile(), ms);
  }

  private async reconcile(): Promise<void> {
    const { signal } = this.running;
    this.reconciling = true;
    try {
      const known = await this.deps.client.agentService(this.endpoint.id, { signal });
      if (signal.aborted) return;
      if (!known) return this.forgotten();
      this.backoff.reset();
      this.events.confirmed();
      this.schedule(this.settings.reconcileIntervalMs);
    } catch (error) {
      if (signal.aborted) return;
      const delay = this.backoff.next();
      this.events.unconfirmed(error, delay);
      this.schedule(delay);
    } finally {
      this.reconciling = false;
      if (this.askAgain && !signal.aborted) {
        this.askAgain = false;
        this.reconcileNow();
      }
    }
  }

  private forgotten(): void {
    if (this.running.signal.aborted) return;
    this.stop();
    this.events.forgotten();
  }
}
