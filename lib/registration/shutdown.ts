import type { ConsulApi, RequestOptions } from '../consul-api/consul-api.js';
import { sleep } from '../common/sleep.js';
import { formatDuration } from '../options/duration.js';

export interface LeaveSettings {
  /** `consul.timeout`: the budget of every request of the shutdown together. */
  timeoutMs: number;
  /** `registration.drainDelay`: time in maintenance before deregistering, on top of the budget. */
  drainDelayMs: number;
}

export interface LeaveReport {
  /** Maintenance is on; draining for `drainDelayMs`. */
  draining(): void;
  /** Maintenance failed: no drain (nobody learnt we are leaving), straight to deregistration. */
  maintenanceFailed(reason: string): void;
}

/**
 * Takes an instance out of Consul on shutdown: maintenance (discovery stops returning it), the drain
 * delay, deregistration. The requests share one deadline, `consul.timeout` from the start plus the
 * drain delay, so a black-holed agent costs `consul.timeout` once, not once per request. Never throws:
 * resolves `undefined` once deregistered, else with why not.
 */
export async function leaveConsul(
  client: Pick<ConsulApi, 'setServiceMaintenance' | 'deregisterService'>,
  id: string,
  settings: LeaveSettings,
  report: LeaveReport,
): Promise<string | undefined> {
  const deadline = new Deadline(settings.timeoutMs);
  try {
    await client.setServiceMaintenance(id, true, 'shutting down', deadline.request());
    if (settings.drainDelayMs > 0) {
      report.draining();
      await sleep(settings.drainDelayMs);
      deadline.extend(settings.drainDelayMs);
    }
  } catch (error) {
    report.maintenanceFailed(deadline.reason(error));
  }
  if (deadline.passed) return deadline.reason();
  try {
    await client.deregisterService(id, deadline.request());
    return undefined;
  } catch (error) {
    return deadline.reason(error);
  }
}

/** One deadline for several requests. */
class Deadline {
  private end: number;

  constructor(private readonly timeoutMs: number) {
    this.end = Date.now() + timeoutMs;
  }

  get passed(): boolean {
    return Date.now() >= this.end;
  }

  extend(ms: number): void {
    this.end += ms;
  }

  /**
   * Options of the next request: what is left of the deadline, and quiet: the shutdown reports its own
   * failures, and "Retrying in the background" would be false now.
   */
  request(): RequestOptions {
    return { timeoutMs: Math.max(1, this.end - Date.now()), quiet: true };
  }

  reason(error?: unknown): string {
    if (this.passed)
      return `no answer within consul.timeout (${formatDuration(this.timeoutMs)}), which bounds the whole shutdown`;
    return error instanceof Error ? error.message : String(error);
  }
}
