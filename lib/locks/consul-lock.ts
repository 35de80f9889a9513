/**
 * A lock this app holds in Consul. Act on what it protects only while `signal` is not aborted, and
 * pass `fencingToken` to whatever you write if a paused holder must not overwrite a newer one
 * (see docs/locks.md).
 */
export class ConsulLock {
  /** @internal */
  constructor(
    /** The full KV key. */
    readonly key: string,
    /**
     * The key's `ModifyIndex` right after this app acquired it: a Raft index, so it strictly
     * increases across successive holders of the key (unlike `LockIndex`, it does not restart when
     * the key is deleted). A resource that remembers the highest token it saw can refuse a write
     * from an older holder.
     */
    readonly fencingToken: number,
    /** The session holding the lock. */
    readonly sessionId: string,
    /** Aborted the moment the lock is, or may be, lost (released, session lost or not renewed in time, key taken). */
    readonly signal: AbortSignal,
    private readonly stillValid: () => boolean,
    private readonly releaseFn: () => Promise<void>,
  ) {}

  /**
   * Whether the lock is still held by our own clock: false once `signal` aborted, and also from the
   * step-down deadline on even if the timer that aborts `signal` has not run yet (a blocked event loop).
   */
  get isHeld(): boolean {
    return !this.signal.aborted && this.stillValid();
  }

  /** Releases the lock (the next waiter gets it without lock-delay). Never rejects; a second call does nothing. */
  release(): Promise<void> {
    return this.releaseFn();
  }
}

/** Options of `acquire()`, `tryAcquire()` and `withLock()`. */
export interface ConsulLockOptions {
  /**
   * Stored in the key while this app holds it, for anyone to read who holds it.
   * @default JSON with this instance's id, address and pid
   */
  value?: string;
  /** Stops waiting (`acquire()` rejects with the signal's reason). */
  signal?: AbortSignal;
}
