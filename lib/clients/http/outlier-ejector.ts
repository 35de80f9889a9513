/**
 * Passive outlier ejection: an instance whose calls failed at the transport level
 * `threshold` times in a row is skipped for `cooldownMs`, then given another chance.
 */
export class OutlierEjector {
  private readonly failures = new Map<string, number>();
  private readonly ejectedUntil = new Map<string, number>();

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether any instance is (or was, until checked) ejected: lets callers skip the per-instance checks. */
  get anyEjected(): boolean {
    return this.ejectedUntil.size > 0;
  }

  isEjected(id: string): boolean {
    const until = this.ejectedUntil.get(id);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.ejectedUntil.delete(id);
    return false;
  }

  success(id: string): void {
    this.failures.delete(id);
  }

  /** Counts a failure; `true` when it ejects the instance. */
  failure(id: string): boolean {
    const count = (this.failures.get(id) ?? 0) + 1;
    this.failures.set(id, count);
    if (count < this.threshold) return false;
    this.failures.delete(id);
    this.ejectedUntil.set(id, this.now() + this.cooldownMs);
    return true;
  }

  /** The instances ejected now (for the status snapshot). */
  ejected(): string[] {
    return [...this.ejectedUntil.keys()].filter((id) => this.isEjected(id));
  }
}
