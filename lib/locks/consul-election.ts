import type { Logger } from '@nestjs/common';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import type { KvPair } from '../consul-api/consul-api.types.js';
import { Backoff } from '../common/backoff.js';
import { sleep } from '../common/sleep.js';
import type { ConsulLock } from './consul-lock.js';
import { type ConsulLockHolder, parseHolder } from './consul-lock.service.js';

/** What an election campaigns with (the lock service, as the election sees it). */
export interface Campaigner {
  take(
    key: string,
    options: { wait: true; signal: AbortSignal; onObserve: (pair: KvPair | undefined) => void },
  ): Promise<ConsulLock | undefined>;
}

/**
 * This app's campaign for leadership of one name: it waits for the election key, leads while it
 * holds it, and campaigns again when it loses it, until `resign()` or shutdown.
 */
export class ConsulElection {
  private readonly leading = new BehaviorSubject<boolean>(false);
  private readonly stopped = new AbortController();
  private lock?: ConsulLock;
  private current?: ConsulLockHolder;
  private readonly done: Promise<void>;

  /** @internal */
  constructor(
    /** The election's name, as given to `elect()`. */
    readonly name: string,
    /** Its KV key: `<locks.prefix>/leader/<name>`. */
    readonly key: string,
    private readonly campaigner: Campaigner,
    private readonly logger: Logger,
    lifetime: AbortSignal,
  ) {
    lifetime.addEventListener('abort', () => this.stop(), { once: true });
    this.done = this.campaign();
  }

  /** Whether this instance leads now: holds the key, and its session is still valid by its own clock. */
  get isLeader(): boolean {
    return this.lock?.isHeld ?? false;
  }

  /** `true` while this instance leads, `false` otherwise; emits on every change, starting with the current state. */
  get leader$(): Observable<boolean> {
    return this.leading.pipe(distinctUntilChanged());
  }

  /** Aborted when this instance's current leadership ends; `undefined` while it does not lead. */
  get signal(): AbortSignal | undefined {
    return this.isLeader ? this.lock?.signal : undefined;
  }

  /** The fencing token of the current leadership (see `ConsulLock.fencingToken`). */
  get fencingToken(): number | undefined {
    return this.isLeader ? this.lock?.fencingToken : undefined;
  }

  /** The current leader as last seen in the key (this instance included): its instance id and address. */
  get leader(): ConsulLockHolder | undefined {
    return this.current;
  }

  /** Stops campaigning and gives up leadership (the next candidate takes over at once, no lock-delay). */
  async resign(): Promise<void> {
    this.stop();
    await this.done;
  }

  private stop(): void {
    if (!this.stopped.signal.aborted) this.stopped.abort();
  }

  private async campaign(): Promise<void> {
    const signal = this.stopped.signal;
    const backoff = new Backoff(500, 5_000);
    while (!signal.aborted) {
      let lock: ConsulLock | undefined;
      try {
        lock = await this.campaigner.take(this.key, {
          wait: true,
          signal,
          onObserve: (pair) => (this.current = pair?.Session ? parseHolder(pair.Value) : undefined),
        });
      } catch (error) {
        if (signal.aborted) break;
        this.logger.error(`Election "${this.name}": ${(error as Error).message}`);
        await sleep(backoff.next(), signal);
        continue;
      }
      if (!lock) continue;
      backoff.reset();
      this.lock = lock;
      this.logger.log(`Leading "${this.name}" (fencing token ${lock.fencingToken})`);
      this.leading.next(true);
      await new Promise<void>((resolve) => {
        if (lock.signal.aborted) return resolve();
        lock.signal.addEventListener('abort', () => resolve(), { once: true });
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      const reason = (lock.signal.reason as Error | undefined)?.message;
      await lock.release();
      this.leading.next(false);
      this.logger.log(
        `No longer leading "${this.name}"${signal.aborted ? ' (resigned)' : reason ? `: ${reason}` : ''}`,
      );
    }
    this.leading.next(false);
    this.leading.complete();
  }
}
