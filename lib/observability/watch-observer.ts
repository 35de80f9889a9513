/** What a watch is about, for metrics and `ConsulStatusService.snapshot()`. */
export interface WatchDescription {
  kind: 'service' | 'kv';
  /** How the watch is named in logs, e.g. `service "billing" in dc2 tagged v2` (never a value or a token). */
  query: string;
  /** For service watches. */
  service?: string;
  /** For service watches: the datacenter asked for, `local` for the agent's own. */
  datacenter?: string;
  /** For KV watches: the configuration context (its prefix, as configured). */
  context?: string;
}

/** Counts what one blocking-query loop does, and remembers it for the status snapshot. */
export interface WatchCounters {
  request(): void;
  failed(error: unknown): void;
  answered(index: number): void;
  closed(): void;
}

/** Where every watch reports: the package's metrics, one object for all watches. */
export interface WatchMetrics {
  request(o: WatchObserver): void;
  error(o: WatchObserver): void;
  closed(o: WatchObserver): void;
}

/**
 * One watch as metrics and the status snapshot see it. The loop tells it about each request,
 * answer and failure (a handful per minute: not a hot path). One per watched service, so it
 * holds its own state only: what it reports to goes through one shared {@link WatchMetrics}.
 */
export class WatchObserver implements WatchCounters {
  readonly startedAt = Date.now();
  requests = 0;
  errors = 0;
  /** Instances in the latest answer (service watches). */
  instances?: number;
  /** `X-Consul-Index` of the latest answer. */
  index?: number;
  lastContact?: number;
  lastError?: { message: string; at: number };
  private attrs?: Record<string, string>;

  constructor(
    readonly description: WatchDescription,
    /** Its app's metrics (each app has its own, so the snapshot and the gauges show that app's watches only). */
    private readonly counters: WatchMetrics,
  ) {}

  /**
   * The metric attributes, made on first use and kept (a plain record: this file is reachable
   * from public declarations). Only an app that records metrics asks: the others, which may watch
   * a thousand services, do not hold them.
   */
  get attributes(): Record<string, string> {
    if (!this.attrs) {
      const { kind, query, service, datacenter, context } = this.description;
      this.attrs = {
        'consul.watch.kind': kind,
        'consul.watch.query': query,
        ...(service === undefined ? {} : { 'consul.service': service }),
        ...(datacenter === undefined ? {} : { 'consul.datacenter': datacenter }),
        ...(context === undefined ? {} : { 'consul.config.context': context }),
      };
    }
    return this.attrs;
  }

  request(): void {
    this.requests++;
    this.counters.request(this);
  }

  failed(error: unknown): void {
    this.errors++;
    this.lastError = { message: (error as Error)?.message ?? String(error), at: Date.now() };
    this.counters.error(this);
  }

  answered(index: number): void {
    this.index = index;
    this.lastContact = Date.now();
  }

  closed(): void {
    this.counters.closed(this);
  }
}
