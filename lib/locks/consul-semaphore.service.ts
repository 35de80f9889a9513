import { Logger } from '@nestjs/common';
import { ConsulApi } from '../consul-api/consul-api.js';
import type { KvEntry } from '../consul-api/consul-api.types.js';
import { ConsulRequestError } from '../consul-api/consul-request.error.js';
import { Backoff } from '../common/backoff.js';
import { sleep } from '../common/sleep.js';
import { LOG_CONTEXT } from '../consul.constants.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { releaseOnce } from './release-once.js';
import { ConsulLockError } from './consul-lock.errors.js';
import { ConsulLockService } from './consul-lock.service.js';
import { anySignal, ConsulSessionManager, type SessionLease } from './consul-session.js';
import { LocalSlots } from './local-slots.js';
import { SessionHold } from './session-hold.js';
import { keyProblem } from '../options/lock-key.js';

/** One of the `limit` slots of a semaphore, held by this app (its contender key is `<prefix>/<sessionId>`). */
export class ConsulSemaphoreLease extends SessionHold {
  /** @internal */
  constructor(
    /** The semaphore's KV prefix. */
    readonly prefix: string,
    readonly limit: number,
    sessionId: string,
    signal: AbortSignal,
    release: () => Promise<void>,
  ) {
    super(sessionId, signal, release);
  }
}

/** `<prefix>/.lock`: the limit and the sessions holding a slot (Consul's semaphore recipe, api/semaphore.go). */
interface SemaphoreState {
  Limit: number;
  Holders: Record<string, boolean>;
}

/**
 * Counting semaphores on Consul KV, as `consul lock -n` does: each contender holds
 * `<prefix>/<session>` with its session, and `<prefix>/.lock` lists at most `limit` holders,
 * changed only by check-and-set. A holder whose session ends is pruned by the next contender.
 * Semaphores live under `<locks.prefix>/semaphore/<name>`.
 */
export class ConsulSemaphoreService {
  private readonly logger = new Logger(LOG_CONTEXT.locks);
  /** Semaphores this app holds a slot of or is contending for. */
  private readonly local = new LocalSlots();

  /** @internal Nest builds it; inject it instead. */
  constructor(
    private readonly options: ResolvedConsulOptions,
    private readonly api: ConsulApi,
    private readonly sessions: ConsulSessionManager,
    private readonly locks: ConsulLockService,
  ) {}

  /** Waits for one of `limit` slots of semaphore `name` (every contender must use the same limit). */
  async acquire(name: string, limit: number, options: { signal?: AbortSignal } = {}): Promise<ConsulSemaphoreLease> {
    return (await this.take(name, limit, true, options.signal))!;
  }

  /** A slot if one is free now, else `undefined`. */
  tryAcquire(name: string, limit: number): Promise<ConsulSemaphoreLease | undefined> {
    return this.take(name, limit, false);
  }

  private async take(
    name: string,
    limit: number,
    wait: boolean,
    signal?: AbortSignal,
  ): Promise<ConsulSemaphoreLease | undefined> {
    const problem = keyProblem(name);
    if (problem) {
      throw new ConsulLockError(
        String(name),
        `Semaphore name ${JSON.stringify(name)} ${problem}`,
        'use a name like "exports"',
      );
    }
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ConsulLockError(name, `Semaphore "${name}": limit ${String(limit)} is not a whole number ≥ 1`);
    }
    const prefix = `${this.options.locks.prefix}/semaphore/${name}`;
    const stop = anySignal(this.sessions.closing, signal);
    const giveBack = await this.local.take(prefix, wait, stop);
    if (!giveBack) return undefined;
    try {
      const lease = await this.contend(prefix, limit, wait, stop, giveBack);
      if (!lease) giveBack();
      return lease;
    } catch (error) {
      giveBack();
      throw error;
    }
  }

  private async contend(
    prefix: string,
    limit: number,
    wait: boolean,
    stop: AbortSignal,
    giveBack: () => void,
  ): Promise<ConsulSemaphoreLease | undefined> {
    const backoff = new Backoff(200, 2_000);
    const lockKey = `${prefix}/.lock`;
    for (;;) {
      stop.throwIfAborted();
      const session = await this.sessions.session(stop);
      const contenderKey = `${prefix}/${session.id}`;
      try {
        // Our contender key, held by our session: gone with it, which frees our slot for others.
        if (!(await this.api.kvAcquire(contenderKey, this.locks.holderValue(), session.id))) {
          // Nobody else writes a key named after our session: it is in the lock-delay our own
          // session left when Consul ended it. Start over with a new session.
          this.sessions.invalidate(session.id, 'Consul refused a key only it could hold');
          continue;
        }
        let index = 0;
        for (;;) {
          const read = await this.api.kvTree(`${prefix}/`, {
            index,
            waitMs: this.options.locks.waitMs,
            signal: anySignal(stop, session.signal),
          });
          index = read.index < index ? 0 : read.index;
          const { state, modifyIndex } = this.state(read.entries, lockKey, limit);
          const live = new Set(read.entries.filter((e) => e.Session).map((e) => e.Key.slice(prefix.length + 1)));
          // Prune holders whose contender key is gone (their session ended).
          const holders = Object.keys(state.Holders).filter((id) => live.has(id) && id !== session.id);
          if (holders.length < limit) {
            const next: SemaphoreState = {
              Limit: limit,
              Holders: Object.fromEntries([...holders, session.id].map((id) => [id, true])),
            };
            if (await this.api.kvPut(lockKey, JSON.stringify(next), modifyIndex)) {
              return this.hold(prefix, lockKey, contenderKey, limit, session, giveBack);
            }
            index = 0; // lost the CAS race: read again at once
            continue;
          }
          if (!wait) {
            await this.api.kvDelete(contenderKey).catch(() => undefined);
            return undefined;
          }
          // Full: the next read blocks until the prefix changes (index 0 would not: do not spin on it).
          if (index === 0) await sleep(1_000, stop);
        }
      } catch (error) {
        if (stop.aborted) throw stop.reason;
        if (error instanceof ConsulLockError) throw error;
        if (error instanceof ConsulRequestError && error.forbidden) {
          throw new ConsulLockError(
            prefix,
            `Consul refused the semaphore "${prefix}": ${error.reason}`,
            `give consul.token key_prefix "${this.options.locks.prefix}" { policy = "write" }`,
          );
        }
        if (error instanceof ConsulRequestError && /invalid session/i.test(error.reason)) {
          this.sessions.invalidate(session.id, 'Consul says it is invalid');
          continue;
        }
        if (!wait) throw error;
        this.logger.debug(`Semaphore "${prefix}": ${(error as Error).message}; retrying`);
        await sleep(backoff.next(), stop);
      }
    }
  }

  /** The `.lock` content and its ModifyIndex (0: absent, so the CAS creates it). */
  private state(entries: KvEntry[], lockKey: string, limit: number): { state: SemaphoreState; modifyIndex: number } {
    const entry = entries.find((e) => e.Key === lockKey);
    if (!entry?.Value) return { state: { Limit: limit, Holders: {} }, modifyIndex: entry?.ModifyIndex ?? 0 };
    let state: SemaphoreState;
    try {
      state = JSON.parse(entry.Value) as SemaphoreState;
    } catch {
      throw new ConsulLockError(
        lockKey,
        `Semaphore key "${lockKey}" does not hold a semaphore`,
        'delete the key or use another name',
      );
    }
    if (state.Limit !== limit) {
      throw new ConsulLockError(
        lockKey,
        `Semaphore "${lockKey}" has limit ${state.Limit}, this contender asked for ${limit}`,
        'use the same limit in every instance',
      );
    }
    return { state: { Limit: limit, Holders: state.Holders ?? {} }, modifyIndex: entry.ModifyIndex };
  }

  private hold(
    prefix: string,
    lockKey: string,
    contenderKey: string,
    limit: number,
    session: SessionLease,
    giveBack: () => void,
  ): ConsulSemaphoreLease {
    const controller = new AbortController();
    const signal = this.sessions.heldSignal(session, controller.signal);
    const release = releaseOnce(async () => {
      if (!controller.signal.aborted) controller.abort(new ConsulLockError(prefix, `Semaphore "${prefix}" released`));
      if (!session.signal.aborted) {
        try {
          await this.removeHolder(prefix, lockKey, limit, session.id);
          await this.api.kvDelete(contenderKey);
        } catch (error) {
          this.logger.warn(`Could not release semaphore "${prefix}": ${(error as Error).message}`);
        }
      }
      // Only now may this app contend again: its old release must not delete its new contender key.
      giveBack();
      unhold();
    });
    const unhold = this.sessions.hold({ release });
    signal.addEventListener('abort', () => void release(), { once: true });
    void this.monitor(prefix, lockKey, limit, session.id, signal, controller);
    return new ConsulSemaphoreLease(prefix, limit, session.id, signal, release);
  }

  private async removeHolder(prefix: string, lockKey: string, limit: number, id: string): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { entries } = await this.api.kvTree(`${prefix}/`, { index: 0, waitMs: 0 });
      const { state, modifyIndex } = this.state(entries, lockKey, limit);
      if (!state.Holders[id]) return;
      delete state.Holders[id];
      if (await this.api.kvPut(lockKey, JSON.stringify(state), modifyIndex)) return;
    }
  }

  /** Aborts the slot when `.lock` no longer lists us or our contender key is gone. */
  private async monitor(
    prefix: string,
    lockKey: string,
    limit: number,
    id: string,
    signal: AbortSignal,
    controller: AbortController,
  ): Promise<void> {
    const backoff = new Backoff(200, 2_000);
    let index = 0;
    let first = true;
    while (!signal.aborted) {
      try {
        // The first read answers at once; later ones block, and index 0 would not: do not spin on it.
        if (!first && index === 0 && !(await sleep(1_000, signal))) return;
        first = false;
        const read = await this.api.kvTree(`${prefix}/`, { index, waitMs: this.options.locks.waitMs, signal });
        if (signal.aborted) return;
        index = read.index < index ? 0 : read.index;
        backoff.reset();
        const { state } = this.state(read.entries, lockKey, limit);
        const mine = read.entries.find((e) => e.Key === `${prefix}/${id}`);
        if (mine?.Session !== id) {
          // Only our session holds a key named after it: it ended (or someone deleted the key).
          this.sessions.invalidate(id, 'its semaphore contender key is gone');
        }
        if (!state.Holders[id] || mine?.Session !== id) {
          controller.abort(
            new ConsulLockError(prefix, `Semaphore "${prefix}" lost: this session no longer holds a slot`),
          );
          return;
        }
      } catch {
        await sleep(backoff.next(), signal);
      }
    }
  }
}
