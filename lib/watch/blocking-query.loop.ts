import type { Logger } from '@nestjs/common';
import { isUnreachable } from '../consul-api/consul-request.error.js';
import { Backoff } from '../common/backoff.js';
import { sleep, type WakeSource } from '../common/sleep.js';
import { StateLog } from '../common/state-log.js';
import { TokenBucket } from './token-bucket.js';
import type { WatchCounters } from '../observability/watch-observer.js';

/** One answer of a blocking query. */
export interface BlockingResult<T> {
  value: T;
  /** `X-Consul-Index` of the answer. */
  index: number;
}

/** Sends one request: blocking on `index` for up to `waitMs`, or answering at once when `index` is 0. */
export type BlockingFetch<T> = (index: number, waitMs: number, signal: AbortSignal) => Promise<BlockingResult<T>>;

export interface BlockingLoopOptions<T> {
  /** Said in logs, e.g. `service "user_service" in dc1`. */
  name: string;
  waitMs: number;
  rateLimit: { perSecond: number; burst: number };
  backoff: { initialMs: number; maxMs: number };
  /** Whether two answers have the same content; only a real change is emitted. */
  equals: (a: T, b: T) => boolean;
  logger: Logger;
  /** An answer already in hand (e.g. read at boot): the loop starts blocking on its index and does not emit it. */
  seed?: BlockingResult<T>;
  /** Ends a backoff early (the agent answers again): retry now rather than after up to `backoff.maxMs`. */
  wake?: WakeSource;
  /** Told about each request, answer and failure, and the stop: metrics and the status snapshot. */
  observer?: WatchCounters;
}

type Listener<T> = (value: T) => void;

/**
 * One long-running Consul blocking query, done right: index reset when it goes backwards and
 * never 0 on a blocking call, a token-bucket rate limit, jittered backoff that never gives up,
 * the last good value kept through errors, and listeners told only about real changes.
 */
export class BlockingQueryLoop<T> {
  private readonly controller = new AbortController();
  private readonly listeners = new Set<Listener<T>>();
  private readonly states: StateLog<'ok' | 'failing' | 'unreachable'>;
  private readonly bucket: TokenBucket;
  private readonly backoff: Backoff;
  private value?: { current: T };
  private waiters: Array<{ resolve: (value: T) => void; reject: (error: unknown) => void }> = [];
  private started = false;
  /** The index the next request blocks on; 0 for a read that answers at once. */
  private index: number;
  /** Requests sent so far: lets tests and benchmarks see what Consul pays. */
  requests = 0;
  /** When Consul last answered (ms since epoch), or undefined before the first answer. */
  lastContact?: number;

  constructor(
    private readonly fetch: BlockingFetch<T>,
    private readonly options: BlockingLoopOptions<T>,
  ) {
    this.states = new StateLog(options.logger);
    this.bucket = new TokenBucket(options.rateLimit.perSecond, options.rateLimit.burst);
    this.backoff = new Backoff(options.backoff.initialMs, options.backoff.maxMs);
    this.index = options.seed ? Math.max(1, options.seed.index) : 0;
    if (options.seed) {
      this.value = { current: options.seed.value };
      this.lastContact = Date.now();
      options.observer?.answered(options.seed.index);
    }
  }

  /** The latest value, or undefined before the first answer. Never does I/O. */
  get current(): T | undefined {
    return this.value?.current;
  }

  /** A plain field, not `signal.aborted`: `choose()` asks on every call, and AbortSignal's getters cost more than the rest of it. */
  stopped = false;

  start(): void {
    if (this.started) return;
    this.started = true;
    // A seeded loop starts with a blocking read that may not return for `waitMs`: it is watching
    // from now on, so say so now, not when the first change comes.
    if (this.options.seed) this.states.enter('ok', 'log', `Watching ${this.options.name}`);
    this.next();
  }

  /** Stops the loop and aborts the request in flight. */
  stop(): void {
    this.stopped = true;
    this.controller.abort();
    this.options.observer?.closed();
    this.listeners.clear();
    const waiters = this.waiters.splice(0);
    waiters.forEach(({ reject }) => reject(new Error(`watch of ${this.options.name} was stopped`)));
  }

  /** The current value, or the first one to come; rejects if the next attempt fails while there is none yet. */
  ready(): Promise<T> {
    if (this.value) return Promise.resolve(this.value.current);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Calls `listener` on every real change; returns the unsubscribe function. */
  onChange(listener: Listener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // The loop is written as steps that schedule each other, not as one async function: that
  // function's suspended frame would be held through every blocking read, for minutes, once per
  // watched service.

  /** Sends the next request, once the rate limit allows. */
  private next(): void {
    if (this.stopped) return;
    const waitMs = this.bucket.take();
    if (waitMs > 0) {
      this.nextAfter(waitMs);
      return;
    }
    this.requests++;
    this.options.observer?.request();
    let request: Promise<BlockingResult<T>>;
    try {
      request = this.fetch(this.index, this.options.waitMs, this.controller.signal);
    } catch (error) {
      request = Promise.reject(error);
    }
    request.then(
      (result) => this.answered(result),
      (error: unknown) => this.failed(error),
    );
  }

  private answered(result: BlockingResult<T>): void {
    if (this.stopped) return;
    try {
      this.lastContact = Date.now();
      this.options.observer?.answered(result.index);
      this.backoff.reset();
      // Consul's rules: an index below 1 is a Consul bug that would make every "blocking" call
      // return at once, so use 1; an index that goes backwards (snapshot restore, new leader)
      // means start over with a non-blocking read.
      this.index = result.index < 1 ? 1 : result.index < this.index ? 0 : result.index;
      // After an outage the client has already said Consul is back: "again" is a detail then.
      this.states.enter(
        'ok',
        this.states.state === 'unreachable' ? 'debug' : 'log',
        `Watching ${this.options.name}${this.states.state ? ' again' : ''}`,
      );
      this.accept(result.value);
    } catch (error) {
      // A listener that throws is this watch's failure, as a bad answer would be: not the end of the loop.
      this.failed(error);
      return;
    }
    this.next();
  }

  private failed(error: unknown): void {
    if (this.stopped) return;
    // Unreachable: the shared client warns once for every loop; other failures (ACL denied,
    // no leader, a bad answer) are this watch's own and worth a warning.
    this.options.observer?.failed(error);
    const unreachable = isUnreachable(error);
    this.states.enter(
      unreachable ? 'unreachable' : 'failing',
      unreachable ? 'debug' : 'warn',
      `Watch of ${this.options.name} failed, keeping the last known answer and retrying: ${(error as Error).message}`,
    );
    this.waiters.splice(0).forEach(({ reject }) => reject(error));
    // After a failure the agent may be another one (restarted, failed over) with a lower
    // index; Consul 1.8 would hold a request for an index it has not reached for the whole
    // wait. Start over with a non-blocking read.
    this.index = 0;
    this.nextAfter(this.backoff.next(), this.options.wake);
  }

  /** Sends the next request after `ms` (sooner if `wake` fires), unless the loop stops first. */
  private nextAfter(ms: number, wake?: WakeSource): void {
    void sleep(ms, this.controller.signal, wake).then((slept) => slept && this.next());
  }

  private accept(value: T): void {
    if (this.value && this.options.equals(this.value.current, value)) return;
    this.value = { current: value };
    this.waiters.splice(0).forEach(({ resolve }) => resolve(value));
    for (const listener of this.listeners) listener(value);
  }
}
