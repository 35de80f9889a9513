import { Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ConsulApi } from '../consul-api/consul-api.js';
import { ConsulRequestError } from '../consul-api/consul-request.error.js';
import { Backoff } from '../common/backoff.js';
import { retryUntil } from '../common/retry.js';
import { sleep } from '../common/sleep.js';
import { LOG_CONTEXT } from '../consul.constants.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { formatDuration } from '../options/duration.js';
import type { ConsulInstanceIdentity } from '../core/instance-identity.js';
import type { ConsulMetrics } from '../observability/consul-metrics.js';
import { ConsulLockError } from './consul-lock.errors.js';
import { withDeadlineReads } from './deadline-signal.js';
import { LivenessCheck } from './liveness-check.js';
import { earliest, type Instant, later, msUntil, now } from './step-down-clock.js';

/** The calls of {@link ConsulApi} the session manager makes (its liveness check's included). */
export type SessionApi = Pick<ConsulApi, 'createSession' | 'renewSession' | 'destroySession' | 'updateTtlCheck'>;

/** A live Consul session of this app, as the locks see it. */
export interface SessionLease {
  readonly id: string;
  /** Aborted when the session is, or may be, gone: invalidated, not renewed in time, or the app stops. */
  readonly signal: AbortSignal;
  /** Whether the session is still ours by our own clock (false from the step-down deadline on). */
  readonly valid: boolean;
}

/** Something holding keys with the session, released before the session is destroyed on shutdown. */
export interface SessionHolder {
  release(): Promise<void>;
}

class Lease implements SessionLease {
  readonly controller = new AbortController();
  /** Until when we count on the session's TTL: `stepDownAfterMs` after the last renewal was sent. */
  sessionValidUntil: Instant;
  /** Until when we count on the liveness check (if the session depends on one), from its last pass. */
  livenessValidUntil?: Instant;
  deadline?: NodeJS.Timeout;

  constructor(
    readonly id: string,
    sentAt: Instant,
    readonly stepDownAfterMs: number,
    readonly liveness?: LivenessCheck,
  ) {
    this.sessionValidUntil = later(sentAt, stepDownAfterMs);
    this.livenessValidUntil = liveness?.validUntil;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The step-down deadline: the session's TTL, or the liveness check it depends on, whichever ends first. */
  get validUntil(): Instant {
    return earliest(this.sessionValidUntil, this.livenessValidUntil);
  }

  /** Not aborted, and its deadline still ahead by both clocks (whether or not its timer has run). */
  get valid(): boolean {
    return !this.controller.signal.aborted && msUntil(this.validUntil) > 0;
  }
}

/**
 * The app's one Consul session, created on first use (never for an app that takes no lock),
 * renewed every `locks.renewInterval`, and destroyed on shutdown after every lock is released
 * (in `onModuleDestroy`, before the registrar deregisters in `beforeApplicationShutdown`). A
 * registered app ties it to a {@link LivenessCheck} too, so a crash frees its locks within seconds.
 *
 * Step-down: the session is only counted on until `sent + TTL − margin`, where `sent` is when the
 * last successful renewal (or the creation) was sent, and, with the liveness check, until
 * `sent + check TTL − TTL/4` from its last confirmed pass. Consul ends a session no sooner than
 * TTL after it processed the renewal (it actually waits 2×TTL), or than the check's TTL after the
 * pass, both after we sent them, and then still keeps the keys for the lock-delay: so a holder that
 * cannot reach Consul aborts its signal before anyone else can take its locks. The timing argument
 * is in docs/locks.md.
 */
export class ConsulSessionManager implements OnModuleDestroy {
  private readonly logger = new Logger(LOG_CONTEXT.locks);
  private readonly lifetime = new AbortController();
  private current?: Promise<Lease>;
  private readonly holders = new Set<SessionHolder>();
  private renewing?: Promise<void>;
  private liveness?: LivenessCheck;

  constructor(
    private readonly options: ResolvedConsulOptions,
    private readonly api: SessionApi,
    private readonly registrar: ConsulInstanceIdentity,
    /** The app's: renewal failures are counted there. */
    private readonly metrics: ConsulMetrics,
  ) {}

  /** Ended when the app shuts down: waits and campaigns stop. */
  get closing(): AbortSignal {
    return this.lifetime.signal;
  }

  /** The live session, created if there is none (or the last one was lost). */
  async session(signal?: AbortSignal): Promise<SessionLease> {
    for (;;) {
      this.throwIfClosing();
      signal?.throwIfAborted();
      const creating = (this.current ??= this.create().catch((error: unknown) => {
        this.current = undefined;
        throw error;
      }));
      const lease = await raceAbort(creating, signal);
      if (!this.expireIfDue(lease)) return lease;
      if (this.current === creating) this.current = undefined;
    }
  }

  /** A lock holds keys with the session until it calls the returned function. */
  hold(holder: SessionHolder): () => void {
    this.holders.add(holder);
    return () => this.holders.delete(holder);
  }

  /** Called by a lock that learned its session is gone (invalid session on acquire, key lost). */
  invalidate(id: string, reason: string): void {
    const lease = this.lastLease;
    if (lease?.id === id) this.lose(lease, reason, false);
  }

  /**
   * Steps down now if `lease`'s deadline has passed by our clocks, even though its timer has not run
   * yet (it runs late after a pause). Every read of a lock's or semaphore slot's state calls this.
   * Returns whether the lease is over.
   */
  expireIfDue(lease: SessionLease): boolean {
    if (lease.signal.aborted) return true;
    if (!(lease instanceof Lease) || lease.valid) return false;
    this.lose(lease, this.stepDownReason(lease), true);
    return true;
  }

  /**
   * The signal of something held with `lease` (a lock, a semaphore slot): aborted with `own` or with
   * the lease, and checked against the lease's deadline at every read.
   */
  heldSignal(lease: SessionLease, own: AbortSignal): AbortSignal {
    return withDeadlineReads(anySignal(own, lease.signal), () => void this.expireIfDue(lease));
  }

  /** Locks released first (no lock-delay for the next holder), then the session destroyed. */
  async onModuleDestroy(): Promise<void> {
    this.lifetime.abort();
    await Promise.allSettled([...this.holders].map((holder) => holder.release()));
    this.holders.clear();
    const lease = await this.current?.catch(() => undefined);
    this.current = undefined;
    if (!lease) return void (await this.liveness?.stop());
    clearTimeout(lease.deadline);
    lease.controller.abort(new ConsulLockError(lease.id, 'The app is shutting down'));
    try {
      await this.api.destroySession(lease.id);
      this.logger.log(`Destroyed session ${lease.id}`);
    } catch (error) {
      this.logger.warn(
        `Could not destroy session ${lease.id}: ${(error as Error).message}. Consul expires it within 2×${formatDuration(this.locks.sessionTtlMs)} (locks.sessionTtl).`,
      );
    }
    await Promise.all([this.renewing, this.liveness?.stop()]);
  }

  private lastLease?: Lease;

  private get locks() {
    return this.options.locks;
  }

  private throwIfClosing(): void {
    if (this.lifetime.signal.aborted) throw this.closingError();
  }

  private closingError(): ConsulLockError {
    return new ConsulLockError('', 'ConsulLockService: the app is shutting down; no new lock is taken');
  }

  private async create(): Promise<Lease> {
    const name = this.sessionName();
    const lease = await retryUntil(
      async () => {
        try {
          return await this.createOnce(name);
        } catch (error) {
          if (error instanceof ConsulRequestError && error.forbidden) {
            throw new ConsulLockError(
              '',
              `Consul refused to create a session for the locks: ${error.reason}`,
              'give consul.token session:write on this node, e.g. session_prefix "" { policy = "write" } (see docs/locks.md)',
            );
          }
          throw error;
        }
      },
      {
        backoff: new Backoff(200, 2_000),
        signal: this.lifetime.signal,
        // A check that has not passed yet (just registered) makes Consul refuse the session: retry.
        retryable: (error) =>
          error instanceof ConsulRequestError && (/critical state/i.test(error.reason) || error.unreachable),
      },
    );
    if (!lease) throw this.closingError();
    return lease;
  }

  private async createOnce(name: string): Promise<Lease> {
    const checks = await this.checks();
    const sentAt = now();
    const id = await this.api.createSession({
      Name: name,
      TTL: formatDuration(this.locks.sessionTtlMs),
      LockDelay: formatDuration(this.locks.lockDelayMs),
      Behavior: 'release',
      Checks: checks,
    });
    const lease = new Lease(id, sentAt, stepDownAfter(this.locks.sessionTtlMs), this.liveness);
    this.lastLease = lease;
    this.armDeadline(lease);
    this.renewing = this.renewLoop(lease);
    this.logger.log(
      `Created session ${id} (TTL ${formatDuration(this.locks.sessionTtlMs)}, lock-delay ${formatDuration(this.locks.lockDelayMs)}, checks ${checks.join(', ')})`,
    );
    return lease;
  }

  /** `serfHealth`, and this app's own check and liveness check once it is registered. */
  private async checks(): Promise<string[]> {
    const { service, registration } = this.options;
    if (service && registration.enabled && !this.registrar.isRegistered) {
      // The session must depend on the service check, which exists once the app is registered.
      await raceAbort(this.registrar.whenRegistered(), this.lifetime.signal).catch(() => undefined);
      this.throwIfClosing();
    }
    const checks = ['serfHealth'];
    const check = this.registrar.checkId;
    if (check) checks.push(check);
    const liveness = this.livenessCheck();
    if (liveness) {
      await liveness.start();
      // A session that would step down at once is no use: wait until the agent confirms a pass again.
      while (!liveness.fresh) await raceAbort(liveness.nextPass(), this.lifetime.signal);
      checks.push(liveness.id);
    }
    return checks;
  }

  /** The liveness check, for a registered instance unless `locks.livenessTtl` is false. */
  private livenessCheck(): LivenessCheck | undefined {
    const instanceId = this.registrar.isRegistered ? this.registrar.instanceId : undefined;
    if (this.liveness || !instanceId || this.locks.livenessTtlMs === undefined) return this.liveness;
    const serviceName = this.options.service?.name ?? 'app';
    this.liveness = new LivenessCheck(
      this.api,
      this.registrar,
      serviceName,
      instanceId,
      this.locks.livenessTtlMs,
      this.logger,
    );
    this.liveness.onPass((validUntil) => {
      const lease = this.lastLease;
      // A pass answered after the lease's deadline does not revive it: Consul may have ended the
      // session meanwhile (a pass sent after a pause, answered before the overdue timer ran).
      if (!lease || this.expireIfDue(lease)) return;
      lease.livenessValidUntil = validUntil;
      this.armDeadline(lease);
    });
    return this.liveness;
  }

  private sessionName(): string {
    const service = this.options.service?.name ?? 'nestjs-consul-kit';
    const id = this.registrar.instanceId;
    return id ? `${service} (${id})` : service;
  }

  private armDeadline(lease: Lease): void {
    clearTimeout(lease.deadline);
    lease.deadline = setTimeout(
      () => this.lose(lease, this.stepDownReason(lease), true),
      Math.max(0, msUntil(lease.validUntil)),
    );
    lease.deadline.unref?.();
  }

  private stepDownReason(lease: Lease): string {
    const consulMayEndIt = 'stepping down before Consul may end the session';
    const { livenessValidUntil, sessionValidUntil } = lease;
    if (lease.liveness && livenessValidUntil && msUntil(livenessValidUntil, sessionValidUntil) < 0) {
      const ttl = formatDuration(this.locks.livenessTtlMs!);
      return `could not pass its liveness check ${lease.liveness.id} for ${formatDuration(this.locks.livenessTtlMs! - lease.liveness.marginMs)}; ${consulMayEndIt} (check TTL ${ttl}, locks.livenessTtl)`;
    }
    return `could not renew it for ${formatDuration(lease.stepDownAfterMs)}; ${consulMayEndIt} (TTL ${formatDuration(this.locks.sessionTtlMs)})`;
  }

  private async renewLoop(lease: Lease): Promise<void> {
    let delay = this.locks.renewIntervalMs;
    while (await sleep(delay, anySignal(this.lifetime.signal, lease.signal))) {
      const sentAt = now();
      try {
        // The renewal must not outlive the lease: an answer after the deadline changes nothing.
        const timeoutMs = Math.max(
          500,
          Math.min(this.options.consul.timeoutMs, msUntil(lease.sessionValidUntil, sentAt)),
        );
        if (!(await this.api.renewSession(lease.id, timeoutMs))) {
          this.metrics.sessionRenewalFailures.add(1);
          this.lose(
            lease,
            'Consul no longer knows it (expired, destroyed, or a check it depends on went critical)',
            false,
          );
          return;
        }
        // Answered after the deadline (we were paused, or the answer was slow): too late to count on.
        if (this.expireIfDue(lease)) return;
        lease.sessionValidUntil = later(sentAt, lease.stepDownAfterMs);
        this.armDeadline(lease);
        delay = this.locks.renewIntervalMs;
      } catch (error) {
        this.metrics.sessionRenewalFailures.add(1);
        this.logger.debug(`Could not renew session ${lease.id}: ${(error as Error).message}; retrying`);
        // Retry soon, several times before the deadline.
        delay = Math.min(1_000, Math.max(100, msUntil(lease.sessionValidUntil) / 4));
      }
    }
  }

  private lose(lease: Lease, reason: string, mayStillExist: boolean): void {
    clearTimeout(lease.deadline);
    if (lease.signal.aborted) return;
    lease.controller.abort(new ConsulLockError(lease.id, `Session ${lease.id} lost: ${reason}`));
    this.logger.warn(`Session ${lease.id} lost: ${reason}; its locks are released`);
    if (this.lastLease === lease) this.current = undefined;
    // Once we stepped down, the session is no use to us: let Consul free its keys now if it can hear us.
    if (mayStillExist) void this.api.destroySession(lease.id, 2_000).catch(() => undefined);
  }
}

/** Margin kept between our step-down and Consul's earliest expiry: timer lateness, clock rate drift. */
export function stepDownAfter(ttlMs: number): number {
  return ttlMs - Math.max(1_000, ttlMs / 10);
}

export function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}

/** `promise`, or a rejection with the signal's reason once `signal` aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
