/**
 * What this app holds with its Consul session: a lock, a semaphore slot. Act on what it protects
 * only while it is held.
 */
export abstract class SessionHold {
  /** @internal */
  protected constructor(
    /** The session holding it. */
    readonly sessionId: string,
    /**
     * Aborted the moment it is, or may be, lost: released, taken, its session lost, or its step-down
     * deadline passed. Reading `signal.aborted` (or `reason`, `throwIfAborted()`) compares against
     * the deadline at that moment, so a process that wakes from a pause (GC, SIGSTOP, a frozen VM)
     * sees the abort before its overdue timers have run.
     */
    readonly signal: AbortSignal,
    private readonly releaseFn: () => Promise<void>,
  ) {}

  /** Whether it is still held by our own clock, at the moment of the read (see `signal`). */
  get isHeld(): boolean {
    return !this.signal.aborted;
  }

  /** Gives it back (the next one waiting gets it without a lock-delay). Never rejects; a second call does nothing. */
  release(): Promise<void> {
    return this.releaseFn();
  }
}
