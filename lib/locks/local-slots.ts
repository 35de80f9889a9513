import { raceAbort } from './consul-session.js';

/**
 * One acquisition of a name at a time in this app, for the locks and the semaphores alike: Consul
 * lets one session acquire a key twice, and two holders in one app would release each other's.
 */
export class LocalSlots {
  private readonly slots = new Map<string, Promise<void>>();

  /**
   * Holds `name` once it is free here, and returns the function that frees it (it frees only this
   * hold, never a later one). Without `wait`, `undefined` at once when it is taken.
   */
  async take(name: string, wait: boolean, stop: AbortSignal): Promise<(() => void) | undefined> {
    while (this.slots.has(name)) {
      if (!wait) return undefined;
      await raceAbort(this.slots.get(name)!, stop);
    }
    let free!: () => void;
    const slot = new Promise<void>((resolve) => (free = resolve));
    this.slots.set(name, slot);
    return () => {
      if (this.slots.get(name) === slot) this.slots.delete(name);
      free();
    };
  }
}
