import type { Stoppable, WatchLease, WatchRegistry } from './watch-registry.js';

/** A lease held for callers who never say they are done; `used` is set on every use. */
export interface IdleLease<L> {
  readonly key: string;
  readonly loop: L;
  used: boolean;
  released: boolean;
}

/**
 * Leases for lookups that never say they are done (`getInstances()`, `choose()`): one per key,
 * released once unused for a whole sweep period, so a one-off lookup does not keep its loop
 * running until shutdown. A use costs one property write (the hot path of `choose()`); the
 * bookkeeping happens in a sweep every `idleMs`, so a lease goes after between 1 and 2 × idleMs.
 */
export class IdleLeases<L extends Stoppable> {
  private readonly entries = new Map<string, { lease: IdleLease<L>; held: WatchLease<L> }>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly registry: WatchRegistry<L>,
    private readonly idleMs: number,
    private readonly onRelease: (lease: IdleLease<L>) => void = () => undefined,
  ) {}

  /** The lease for `key` (taken from the registry with `create` if none is held), marked used. */
  use(key: string, create: () => L): IdleLease<L> {
    const entry = this.entries.get(key);
    if (entry) {
      entry.lease.used = true;
      return entry.lease;
    }
    const held = this.registry.acquire(key, create);
    const lease: IdleLease<L> = { key, loop: held.loop, used: true, released: false };
    this.entries.set(key, { lease, held });
    this.timer ??= setInterval(() => this.sweep(), this.idleMs).unref();
    return lease;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Releases the leases nobody used since the last sweep; the others start a new period. */
  sweep(): void {
    for (const [key, { lease, held }] of this.entries) {
      if (lease.used) {
        lease.used = false;
        continue;
      }
      this.entries.delete(key);
      lease.released = true;
      held.release();
      this.onRelease(lease);
    }
    if (this.entries.size === 0) this.stopTimer();
  }

  /** Forgets every lease without releasing (the registry stops all loops at shutdown). */
  clear(): void {
    this.entries.clear();
    this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
