/**
 * What this app holds with its Consul session: a lock, a semaphore slot. Act on what it protects
 * only while it is held.
 */
export abstract class SessionHold {
  protected constructor(
    /** The session holding it. */
    readonly sessionId: string,
    /** Aborted the moment it is, or may be, lost (released, session lost or not renewed in time, taken). */
    readonly signal: AbortSignal,
    private readonly stillValid: () => boolean,
    private readonly releaseFn: () => Promise<void>,
  ) {}

  /**
   * Whether it is still held by our own clock: false once `signal` aborted, and also from the
   * step-down deadline on even if the timer that aborts `signal` has not run yet (a blocked event loop).
   */
  get isHeld(): boolean {
    return !this.signal.aborted && this.stillValid();
  }

  /** Gives it back (the next one waiting gets it without a lock-delay). Never rejects; a second call does nothing. */
  release(): Promise<void> {
    return this.releaseFn();
  }
}
