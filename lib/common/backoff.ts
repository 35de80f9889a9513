/** Exponential backoff with "full jitter" between `initialMs` and the exponential bound, capped at `maxMs`. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly factor = 2,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; grows with every call until {@link reset}. */
  next(): number {
    const bound = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    // Jitter keeps many instances that lost Consul together from retrying in lockstep.
    return Math.round(this.initialMs / 2 + this.random() * (bound - this.initialMs / 2));
  }

  reset(): void {
    this.attempt = 0;
  }
}
