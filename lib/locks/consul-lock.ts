import { SessionHold } from './session-hold.js';

/**
 * A lock this app holds in Consul. Act on what it protects only while `signal` is not aborted, and
 * pass `fencingToken` to whatever you write if a paused holder must not overwrite a newer one
 * (see docs/locks.md).
 */
export class ConsulLock extends SessionHold {
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
    sessionId: string,
    signal: AbortSignal,
    release: () => Promise<void>,
  ) {
    super(sessionId, signal, release);
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
