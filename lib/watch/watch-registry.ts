/** Something the registry can stop. */
export interface Stoppable {
  start(): void;
  stop(): void;
}

/** A counted use of a shared loop; `release()` once. */
export interface WatchLease<L> {
  readonly loop: L;
  release(): void;
}

/**
 * One loop per distinct query, shared by everyone who asks for it: started on first use,
 * stopped when the last lease is released, and all stopped at shutdown.
 */
export class WatchRegistry<L extends Stoppable> {
  private readonly entries = new Map<string, { loop: L; leases: number }>();

  /** Leases the loop for `key`, creating and starting it with `create` if none runs. */
  acquire(key: string, create: () => L): WatchLease<L> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { loop: create(), leases: 0 };
      this.entries.set(key, entry);
      entry.loop.start();
    }
    entry.leases++;
    const held = entry;
    let released = false;
    return {
      loop: held.loop,
      release: () => {
        if (released) return;
        released = true;
        if (--held.leases === 0 && this.entries.get(key) === held) {
          this.entries.delete(key);
          held.loop.stop();
        }
      },
    };
  }

  /** The running loop for `key`, without taking a lease. */
  peek(key: string): L | undefined {
    return this.entries.get(key)?.loop;
  }

  /** How many loops run: one per distinct query. */
  get size(): number {
    return this.entries.size;
  }

  stopAll(): void {
    for (const { loop } of this.entries.values()) loop.stop();
    this.entries.clear();
  }
}
