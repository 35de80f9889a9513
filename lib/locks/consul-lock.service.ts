import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import { ConsulApi } from '../consul-api/consul-api.js';
import type { KvPair } from '../consul-api/consul-api.types.js';
import { ConsulRequestError } from '../consul-api/consul-request.error.js';
import { Backoff } from '../common/backoff.js';
import { sleep } from '../common/sleep.js';
import { LOG_CONTEXT } from '../consul.constants.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import type { ConsulInstanceIdentity } from '../core/instance-identity.js';
import { ConsulLock, type ConsulLockOptions } from './consul-lock.js';
import { releaseOnce } from './release-once.js';
import { ConsulLockError } from './consul-lock.errors.js';
import { anySignal, ConsulSessionManager, type SessionLease } from './consul-session.js';
import { LocalSlots } from './local-slots.js';
import { keyProblem } from '../options/lock-key.js';

/** @internal What the leader election adds to a lock request. */
export interface TakeOptions extends ConsulLockOptions {
  wait: boolean;
  /** Every state of the key seen while waiting or holding (who holds it). */
  onObserve?: (pair: KvPair | undefined) => void;
}

/** The holder of a key as stored in its value by this library. */
export interface ConsulLockHolder {
  /** The registered instance id, or `<hostname>:<pid>` for an app that is not registered. */
  instanceId: string;
  /** `address:port` as registered, when the app is. */
  address?: string;
  pid: number;
}

/**
 * Locks on Consul KV keys held with the app's session (Consul's `acquire`/`release`).
 * `acquire()` waits with blocking queries on the key and honours Consul's lock-delay;
 * `tryAcquire()` does not wait. Keys are relative to `locks.prefix`.
 */
export class ConsulLockService {
  private readonly logger = new Logger(LOG_CONTEXT.locks);
  /** Keys this app holds or is acquiring. */
  private readonly local = new LocalSlots();

  /** @internal Nest builds it; inject it instead. */
  constructor(
    private readonly options: ResolvedConsulOptions,
    private readonly api: ConsulApi,
    private readonly sessions: ConsulSessionManager,
    private readonly registrar: ConsulInstanceIdentity,
  ) {}

  /** Waits until this app holds `<locks.prefix>/<key>`. Rejects on bad input, ACL refusal, `options.signal` or shutdown. */
  async acquire(key: string, options: ConsulLockOptions = {}): Promise<ConsulLock> {
    return (await this.take(this.fullKey(key), { ...options, wait: true }))!;
  }

  /** The lock if it is free now, else `undefined`; does not wait. */
  tryAcquire(key: string, options: ConsulLockOptions = {}): Promise<ConsulLock | undefined> {
    return this.take(this.fullKey(key), { ...options, wait: false });
  }

  /**
   * Runs `fn` while holding the lock and releases it afterwards, also when `fn` throws. `fn` gets
   * the lock's signal: stop when it aborts.
   */
  async withLock<T>(
    key: string,
    fn: (signal: AbortSignal, lock: ConsulLock) => Promise<T> | T,
    options: ConsulLockOptions = {},
  ): Promise<T> {
    const lock = await this.acquire(key, options);
    try {
      return await fn(lock.signal, lock);
    } finally {
      await lock.release();
    }
  }

  /** Who holds `<locks.prefix>/<key>` now (one read), if anyone. */
  async holder(key: string): Promise<ConsulLockHolder | undefined> {
    const { pair } = await this.api.kvGet(this.fullKey(key));
    return pair?.Session ? parseHolder(pair.Value) : undefined;
  }

  /**
   * `<locks.prefix>/<key>`, validated.
   *
   * @internal
   */
  fullKey(key: string): string {
    const problem = keyProblem(key);
    if (problem) {
      throw new ConsulLockError(
        String(key),
        `Lock key ${JSON.stringify(key)} ${problem}`,
        'use a relative KV path like "jobs/nightly-report" (it goes under locks.prefix)',
      );
    }
    return `${this.options.locks.prefix}/${key}`;
  }

  /** @internal This instance, as written in the keys it holds. */
  holderValue(): string {
    const holder: ConsulLockHolder = {
      instanceId: this.registrar.instanceId ?? `${hostname()}:${process.pid}`,
      ...(this.registrar.instanceAddress ? { address: this.registrar.instanceAddress } : {}),
      pid: process.pid,
    };
    return JSON.stringify(holder);
  }

  /** @internal */
  async take(key: string, options: TakeOptions): Promise<ConsulLock | undefined> {
    const stop = anySignal(this.sessions.closing, options.signal);
    // One acquisition of a key at a time in this app (the slot is ours until release or failure).
    const giveBack = await this.local.take(key, options.wait, stop);
    if (!giveBack) return undefined;
    try {
      const lock = await this.acquireLoop(key, options, stop, giveBack);
      if (!lock) giveBack();
      return lock;
    } catch (error) {
      giveBack();
      throw stop.aborted && !options.signal?.aborted
        ? new ConsulLockError(key, `Lock "${key}" not acquired: the app is shutting down`)
        : error;
    }
  }

  private async acquireLoop(
    key: string,
    options: TakeOptions,
    stop: AbortSignal,
    giveBack: () => void,
  ): Promise<ConsulLock | undefined> {
    const backoff = new Backoff(200, 2_000);
    /** When we first saw the key free but could not take it: it is in its lock-delay. */
    let freeSince: number | undefined;
    for (;;) {
      stop.throwIfAborted();
      const lease = await this.sessions.session(stop);
      // After the session: it waits for the registration, which gives the instance id and address.
      const value = options.value ?? this.holderValue();
      try {
        if (await this.api.kvAcquire(key, value, lease.id)) {
          const lock = await this.holdOrUndefined(key, lease, value, options, giveBack);
          if (lock) return lock;
          continue;
        }
        if (!options.wait) return undefined;
        // Refused: who holds it?
        let read = await this.api.kvGet(key, { signal: stop });
        options.onObserve?.(read.pair);
        if (!read.pair?.Session) {
          // Released between our acquire and this read: try again at once.
          if (freeSince === undefined) {
            freeSince = performance.now();
            continue;
          }
          // Free but refused again: Consul's lock-delay after the last holder's session ended. It
          // sends no event when that ends, so sleep out the rest of it (as measured from when we
          // saw the key freed, with our own lock-delay), then retry at a short interval.
          const left = this.options.locks.lockDelayMs - (performance.now() - freeSince);
          await sleep(Math.max(LOCK_DELAY_RETRY_MS, left + 20), stop);
          continue;
        }
        // Held by another session: block on the key until it changes hands.
        let index = read.index;
        while (read.pair?.Session) {
          // Index 0 (no usable X-Consul-Index) does not block: do not spin on it.
          if (index === 0) await sleep(1_000, stop);
          read = await this.api.kvGet(key, { index, waitMs: this.options.locks.waitMs, signal: stop });
          index = read.index < index ? 0 : read.index;
          options.onObserve?.(read.pair);
        }
        // Freed just now: by a release (takeable at once) or by an ended session (lock-delay from now).
        freeSince = performance.now();
        backoff.reset();
      } catch (error) {
        if (stop.aborted) throw stop.reason;
        if (!this.recoverable(key, lease, error)) throw error;
        // A session Consul had already ended is replaced at once, also for tryAcquire().
        if (lease.signal.aborted) continue;
        if (!options.wait) throw error;
        await sleep(backoff.next(), stop);
      }
    }
  }

  /** Whether a failed call is worth retrying; throws the user-facing error when it is not. */
  private recoverable(key: string, lease: SessionLease, error: unknown): boolean {
    if (!(error instanceof ConsulRequestError)) return false;
    if (error.forbidden) {
      throw new ConsulLockError(
        key,
        `Consul refused the lock on "${key}": ${error.reason}`,
        `give consul.token write on the key, e.g. key_prefix "${this.options.locks.prefix}" { policy = "write" }, or set locks.prefix to a prefix it may write`,
      );
    }
    if (/invalid session|session .*not found/i.test(error.reason)) {
      this.sessions.invalidate(lease.id, 'Consul says it is invalid');
      return true;
    }
    return error.unreachable || (error.statusCode ?? 0) >= 500;
  }

  /** After a successful acquire: reads the fencing token and starts watching the key. */
  private async holdOrUndefined(
    key: string,
    lease: SessionLease,
    value: string,
    options: TakeOptions,
    giveBack: () => void,
  ): Promise<ConsulLock | undefined> {
    const { pair, index } = await this.api.kvGet(key);
    options.onObserve?.(pair);
    if (!pair || pair.Session !== lease.id) return undefined;
    const controller = new AbortController();
    const signal = this.sessions.heldSignal(lease, controller.signal);
    const release = releaseOnce(async () => {
      if (!controller.signal.aborted) controller.abort(new ConsulLockError(key, `Lock "${key}" released`));
      if (!lease.signal.aborted) {
        try {
          await this.api.kvRelease(key, '', lease.id);
        } catch (error) {
          this.logger.warn(`Could not release lock "${key}": ${(error as Error).message}`);
        }
      }
      // Only now may this app take the key again (the old release would free the new lock), and
      // on shutdown the session is destroyed once every release is done: a session destroyed
      // while it still holds the key would put the key in its lock-delay.
      giveBack();
      unhold();
    });
    const unhold = this.sessions.hold({ release });
    const lock = new ConsulLock(key, pair.ModifyIndex, lease.id, signal, release);
    // If the lock ends any other way (session lost, key taken), the slot is free again.
    signal.addEventListener('abort', () => void release(), { once: true });
    void this.monitor(key, lease.id, index, signal, controller, options.onObserve);
    return lock;
  }

  /** Blocks on the held key; aborts the lock when another session (or nobody) holds it. */
  private async monitor(
    key: string,
    sessionId: string,
    startIndex: number,
    signal: AbortSignal,
    controller: AbortController,
    onObserve?: (pair: KvPair | undefined) => void,
  ): Promise<void> {
    const backoff = new Backoff(200, 2_000);
    let index = startIndex;
    while (!signal.aborted) {
      try {
        if (index === 0 && !(await sleep(1_000, signal))) return;
        const read = await this.api.kvGet(key, { index, waitMs: this.options.locks.waitMs, signal });
        if (signal.aborted) return;
        index = read.index < index ? 0 : read.index;
        backoff.reset();
        onObserve?.(read.pair);
        if (read.pair?.Session !== sessionId) {
          this.logger.warn(
            `Lock "${key}" lost: the key is ${read.pair?.Session ? 'held by another session' : 'no longer held'}`,
          );
          controller.abort(new ConsulLockError(key, `Lock "${key}" lost: Consul no longer gives it to this session`));
          return;
        }
      } catch {
        // The session's step-down deadline covers an unreachable agent; keep watching.
        await sleep(backoff.next(), signal);
      }
    }
  }
}

const LOCK_DELAY_RETRY_MS = 200;

/** The holder written by {@link ConsulLockService.holderValue}, if the value is one. */
export function parseHolder(value: string | null): ConsulLockHolder | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<ConsulLockHolder>;
    return typeof parsed.instanceId === 'string' ? (parsed as ConsulLockHolder) : undefined;
  } catch {
    return undefined;
  }
}
