import type { Logger } from '@nestjs/common';
import type { ConsulApi } from '../consul-api/consul-api.js';
import { sleep } from '../common/sleep.js';
import { formatDuration } from '../options/duration.js';
import type { ConsulInstanceIdentity } from '../core/instance-identity.js';
import { type Instant, later, latest, msUntil, NEVER, now } from './step-down-clock.js';

/**
 * A TTL check on this instance that the app passes every TTL/4 while it uses locks, and that its
 * session depends on. When the process dies, the check goes critical within its TTL (2 s by default)
 * and Consul invalidates the session then, instead of at the next run of the service check (10 s by
 * default) or when the session's own TTL runs out (10–20 s). Attached through the registrar, so a
 * re-registration keeps it; registered only once a lock is first taken (an app without locks has none).
 */
export class LivenessCheck {
  private readonly stopped = new AbortController();
  private started?: Promise<void>;
  private loop?: Promise<void>;
  /** When the last pass the agent confirmed was sent; Consul's TTL runs from after it. */
  private lastPassSentAt: Instant = NEVER;
  private readonly listeners = new Set<(validUntil: Instant) => void>();

  constructor(
    private readonly api: Pick<ConsulApi, 'updateTtlCheck'>,
    private readonly registrar: ConsulInstanceIdentity,
    private readonly serviceName: string,
    private readonly instanceId: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  get id(): string {
    return `locks:${this.instanceId}`;
  }

  /**
   * Until when, by our clocks, Consul cannot have seen the check go critical: TTL after the last
   * confirmed pass was sent, less a quarter of the TTL for a late timer (docs/locks.md).
   */
  get validUntil(): Instant {
    return later(this.lastPassSentAt, this.ttlMs - this.marginMs);
  }

  get marginMs(): number {
    return this.ttlMs / 4;
  }

  /** Registers the check (passing) with the instance, once, and starts passing it. */
  start(): Promise<void> {
    this.started ??= this.attach().catch((error: unknown) => {
      this.started = undefined;
      throw error;
    });
    return this.started;
  }

  /** Called after each confirmed pass with the new deadline: the session manager moves its step-down deadline. */
  onPass(listener: (validUntil: Instant) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether a pass was confirmed recently enough for a new session to count on it. */
  get fresh(): boolean {
    return msUntil(this.validUntil) > this.marginMs;
  }

  /** Resolves at the next confirmed pass. */
  nextPass(): Promise<void> {
    return new Promise((resolve) => {
      const off = this.onPass(() => {
        off();
        resolve();
      });
    });
  }

  /** Stops passing (shutdown, after the session is destroyed); the check leaves with the instance. */
  async stop(): Promise<void> {
    this.stopped.abort();
    await this.loop;
  }

  private async attach(): Promise<void> {
    const sentAt = now();
    await this.registrar.attachCheck({
      CheckID: this.id,
      Name: `${this.serviceName} liveness for locks`,
      Notes: `Passed every ${formatDuration(this.ttlMs / 4)} by nestjs-consul-kit while the app uses locks; its session depends on it`,
      TTL: formatDuration(this.ttlMs),
      Status: 'passing',
    });
    this.passed(sentAt);
    this.loop ??= this.passLoop();
  }

  private async passLoop(): Promise<void> {
    while (await sleep(this.ttlMs / 4, this.stopped.signal)) {
      const sentAt = now();
      try {
        const known = await this.api.updateTtlCheck(this.id, 'passing', 'alive', {
          // A pass answered after the deadline is of no use, and the next one is due anyway.
          timeoutMs: Math.max(250, this.ttlMs / 2),
          quiet: true,
        });
        // An unknown check: the agent forgot the instance; the registrar registers it again, with it.
        if (known) this.passed(sentAt);
        else this.logger.debug(`The agent does not know check ${this.id}; waiting for the instance's re-registration`);
      } catch (error) {
        this.logger.debug(`Could not pass check ${this.id}: ${(error as Error).message}`);
      }
    }
  }

  private passed(sentAt: Instant): void {
    this.lastPassSentAt = latest(this.lastPassSentAt, sentAt);
    const validUntil = this.validUntil;
    this.listeners.forEach((listener) => listener(validUntil));
  }
}
