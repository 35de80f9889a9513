/** A read waiting for a slot: started (with its slot) when one frees, or dropped when its signal aborts. */
interface Waiter {
  start(): void;
  signal: AbortSignal;
  onAbort(): void;
}

/**
 * At most `limit` reads in flight at once; the others wait their turn, first come first served.
 * Below the limit a read starts at once, in the caller's tick. A slot is freed when the read
 * settles (answer or failure) or its signal aborts, whichever comes first; a waiter whose
 * signal aborts leaves the queue without ever starting. No timer: only a freed slot starts a
 * waiter.
 *
 * Watches use it for their first reads (no index yet: Consul answers at once, with the whole
 * list). Started together, a thousand of them would read a thousand answers at the same moment,
 * and the C heap those bodies were read into stays with the process after they are freed.
 */
export class FirstReadGate {
  private running = 0;
  /** Insertion-ordered (FIFO), and an aborted waiter leaves it in O(1). */
  private readonly waiting = new Set<Waiter>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  /** Reads in flight now. */
  get inFlight(): number {
    return this.running;
  }

  /** Reads waiting for a slot now. */
  get queued(): number {
    return this.waiting.size;
  }

  /**
   * `read()` now if a slot is free, else once one frees (in order). Rejects with the signal's
   * reason, without calling `read`, if `signal` aborts before the read starts.
   */
  run<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.running < this.limit) {
      this.running++;
      return this.startHolding(read, signal);
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        signal,
        // Called with the slot already counted as ours: handed over by the read that ended.
        start: () => this.startHolding(read, signal).then(resolve, reject),
        onAbort: () => {
          this.waiting.delete(waiter);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiting.add(waiter);
    });
  }

  /** Runs `read` in a slot already counted, and frees the slot once, on settle or abort. */
  private startHolding<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T> {
    let held = true;
    const free = () => {
      if (!held) return;
      held = false;
      signal.removeEventListener('abort', free);
      this.freeSlot();
    };
    // An aborted read's request should reject promptly, but the slot must not wait on that.
    signal.addEventListener('abort', free, { once: true });
    let pending: Promise<T>;
    try {
      pending = read();
    } catch (error) {
      free();
      return Promise.reject(error);
    }
    return pending.finally(free);
  }

  /** Hands the freed slot to the first waiter, or gives it back. */
  private freeSlot(): void {
    const next = this.waiting.values().next();
    if (next.done) {
      this.running--;
      return;
    }
    const waiter = next.value;
    this.waiting.delete(waiter);
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    waiter.start();
  }
}
