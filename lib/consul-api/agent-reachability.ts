import { Logger } from '@nestjs/common';
import { LOG_CONTEXT } from '../consul.constants.js';
import type { ConsulRequestError } from './consul-request.error.js';

export interface AgentReachabilityOptions {
  /**
   * A cheap request to the agent, sent every `probeIntervalMs` while it is unreachable, so that
   * loops sleeping in a long backoff hear at once that it is back (see {@link onReconnect}).
   */
  probe?: () => Promise<unknown>;
  probeIntervalMs?: number;
  logger?: Pick<Logger, 'log' | 'warn'>;
  now?: () => number;
}

/**
 * Whether the Consul agent answers, said once per change for the whole app. Every watch loop,
 * the registrar and the config loop share one client, so an outage is one warning when it
 * starts and one line when it ends, not one per loop and retry. Components log their own
 * unreachable failures at debug level only.
 */
export class AgentReachability {
  private lostAt?: number;
  private failedRequests = 0;
  private readonly reconnectListeners = new Set<() => void>();
  private probeTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly logger: Pick<Logger, 'log' | 'warn'>;
  private readonly now: () => number;

  constructor(private readonly options: AgentReachabilityOptions = {}) {
    this.logger = options.logger ?? new Logger(LOG_CONTEXT.api);
    this.now = options.now ?? Date.now;
  }

  get reachable(): boolean {
    return this.lostAt === undefined;
  }

  /**
   * Calls `listener` each time the agent answers after an outage (it may be a restarted agent that
   * lost its state). Returns the unsubscribe function.
   */
  readonly onReconnect = (listener: () => void): (() => void) => {
    // An arrow function: loops take it as their backoff's wake source as it is (a WakeSource).
    this.reconnectListeners.add(listener);
    if (this.lostAt !== undefined) this.scheduleProbe();
    return () => {
      this.reconnectListeners.delete(listener);
      if (this.reconnectListeners.size === 0) this.stopProbing();
    };
  };

  /** The agent answered (any HTTP status: it is there). */
  answered(agent: string): void {
    if (this.lostAt === undefined) return;
    const seconds = ((this.now() - this.lostAt) / 1000).toFixed(1);
    this.logger.log(
      `Consul at ${agent} answers again after ${seconds} s (${this.failedRequests} request(s) failed meanwhile)`,
    );
    this.lostAt = undefined;
    this.failedRequests = 0;
    this.stopProbing();
    this.reconnectListeners.forEach((listener) => listener());
  }

  /** A request did not reach the agent (refused, reset, timed out). */
  unreachable(error: ConsulRequestError): void {
    this.failedRequests++;
    if (this.lostAt !== undefined) return;
    this.lostAt = this.now();
    this.logger.warn(
      `${error.message}. Retrying in the background; the app keeps serving the instances and configuration it last saw`,
    );
    this.scheduleProbe();
  }

  /** Stops probing for good (the app is shutting down). */
  close(): void {
    this.closed = true;
    this.stopProbing();
  }

  /**
   * Probes only while someone waits to hear that the agent is back. Nobody does in an app whose
   * bootstrap failed (its config could not be read, say): Nest never closes that app's client,
   * and a probe forever, each with a socket and a request timer, would outlive it.
   */
  private scheduleProbe(): void {
    const { probe, probeIntervalMs = 1_000 } = this.options;
    if (!probe || this.closed || this.probeTimer || this.reconnectListeners.size === 0) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      // The probe's own outcome reaches answered()/unreachable() through the client.
      void probe()
        .catch(() => undefined)
        .then(() => {
          if (this.lostAt !== undefined) this.scheduleProbe();
        });
    }, probeIntervalMs);
    // Never what keeps a process alive: an app whose bootstrap failed may never close its client.
    this.probeTimer.unref();
  }

  private stopProbing(): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }
}
