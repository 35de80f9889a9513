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

/**
 * One watch as metrics and the status snapshot see it. The loop tells it about each request,
 * answer and failure (a handful per minute: not a hot path); the attributes are made once.
 */
export class WatchObserver implements WatchCounters {
  /** The metric attributes, made once (a plain record: this file is reachable from public declarations). */
  readonly attributes: Record<string, string>;
  readonly startedAt = Date.now();
  requests = 0;
  errors = 0;
  /** Instances in the latest answer (service watches). */
  instances?: number;
  /** `X-Consul-Index` of the latest answer. */
  index?: number;
  lastContact?: number;
  lastError?: { message: string; at: number };

  constructor(
    readonly description: WatchDescription,
    /** The app it belongs to (its `ConsulApi`): the status snapshot shows only its own app's watches. */
    readonly owner: object,
    private readonly counters: { request(o: WatchObserver): void; error(o: WatchObserver): void },
    private readonly onClose: (o: WatchObserver) => void,
  ) {
    const { kind, query, service, datacenter, context } = description;
    this.attributes = {
      'consul.watch.kind': kind,
      'consul.watch.query': query,
      ...(service === undefined ? {} : { 'consul.service': service }),
      ...(datacenter === undefined ? {} : { 'consul.datacenter': datacenter }),
      ...(context === undefined ? {} : { 'consul.config.context': context }),
    };
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
    this.onClose(this);
  }
}
