import type { Attributes, Span, SpanOptions } from '@opentelemetry/api';
import type { ServiceInstance } from '../common/service-instance.js';
import { type ClientSource, type ConsulMetrics, consulMetrics } from './consul-metrics.js';
import { ATTR } from './instrument-names.js';
import { loadedOtelApi } from './otel-api.js';

const MAX_REMEMBERED_INSTANCES = 1_000;

/** The outcome of one attempt: the status code, or the error type (`timeout`, `ECONNREFUSED`…). */
type Outcome = number | string;

/**
 * The metrics and spans of one typed HTTP client, made for its hot path: attribute objects are
 * made once per instance, method and outcome and reused; a span's attributes are only set when
 * it records (with no SDK, the API hands out non-recording spans).
 *
 * Spans: one INTERNAL span per logical request, `<service> <METHOD>`, parent of its attempts.
 * It names the instance that answered, the attempt number and the retries; each attempt is an
 * event on it. The HTTP CLIENT spans are left to `@opentelemetry/instrumentation-undici`, which
 * makes one per attempt under ours when it is installed: nothing is counted twice.
 */
export class HttpClientInstruments {
  /** instance id → method → outcome → attributes. */
  private readonly attributes = new Map<string, Map<string, Map<Outcome, Attributes>>>();
  private readonly ejectionAttributes = new Map<string, Attributes>();
  /** method → span name and start attributes. */
  private readonly spanStarts = new Map<string, { name: string; options: SpanOptions }>();
  /** instance id → the span attributes naming it. */
  private readonly spanInstanceAttributes = new Map<string, Attributes>();
  private readonly serviceAttrs: Attributes;

  constructor(
    private readonly service: string,
    private readonly metrics: ConsulMetrics = consulMetrics,
  ) {
    this.serviceAttrs = metrics.serviceAttrs(service);
  }

  /** Shows the client in `ConsulStatusService.snapshot()` until it closes; returns what removes it. */
  track(source: ClientSource): () => void {
    return this.metrics.track(this.metrics.clients, source);
  }

  /** Starts the span of one logical request. */
  startRequest(method: string): Span | undefined {
    const tracer = this.metrics.tracer;
    if (!tracer) return undefined;
    let start = this.spanStarts.get(method);
    if (!start) {
      const attributes = { [ATTR.service]: this.service, [ATTR.method]: method };
      start = { name: `${this.service} ${method}`, options: { kind: 0 /* INTERNAL */, attributes } };
      this.spanStarts.set(method, start);
    }
    return tracer.startSpan(start.name, start.options);
  }

  /** Runs one attempt with the request's span active, so instrumentation-undici's span is its child. */
  inSpan<T>(span: Span, run: () => Promise<T>): Promise<T> {
    if (!span.isRecording()) return run();
    const { context, trace } = loadedOtelApi()!;
    return context.with(trace.setSpan(context.active(), span), run);
  }

  /** One attempt ended: its duration (from `performance.now()` at its start) and outcome. */
  attempt(
    span: Span | undefined,
    instance: ServiceInstance,
    method: string,
    attempt: number,
    outcome: Outcome,
    startedAt: number,
  ): void {
    if (this.metrics.recording) {
      this.metrics.httpDuration.record((performance.now() - startedAt) / 1000, this.attrs(instance, method, outcome));
      if (attempt > 1) this.metrics.clientRetries.add(1, this.serviceAttrs);
    }
    if (!span?.isRecording()) return;
    const failed = typeof outcome === 'string' || outcome >= 500;
    // An event per attempt only when there is more than one to tell apart: a request answered at
    // the first attempt (the usual case) says it all in its attributes.
    if (failed || attempt > 1) {
      span.addEvent('attempt', {
        [ATTR.attempt]: attempt,
        [ATTR.instanceId]: instance.id,
        ...(typeof outcome === 'number' ? { [ATTR.statusCode]: outcome } : { [ATTR.errorType]: outcome }),
      });
    }
    span.setAttributes(this.spanInstanceAttrs(instance));
    span.setAttribute(ATTR.attempt, attempt);
    span.setAttribute(ATTR.retries, attempt - 1);
    if (typeof outcome === 'number') span.setAttribute(ATTR.statusCode, outcome);
  }

  /** Ends the span with the request; a failure says its error class (never its message, which names the path). */
  async ended<T>(span: Span, request: Promise<T>): Promise<T> {
    try {
      return await request;
    } catch (error) {
      if (span.isRecording()) {
        const type = (error as Error)?.name ?? 'Error';
        span.setStatus({ code: 2 /* ERROR */, message: type });
        span.setAttribute(ATTR.errorType, type);
      }
      throw error;
    } finally {
      span.end();
    }
  }

  /** An instance was ejected for the cooldown. */
  ejected(instance: ServiceInstance): void {
    let attrs = this.ejectionAttributes.get(instance.id);
    if (!attrs) {
      attrs = { ...this.instanceAttrs(instance) };
      this.ejectionAttributes.set(instance.id, attrs);
    }
    this.metrics.outlierEjections.add(1, attrs);
  }

  private attrs(instance: ServiceInstance, method: string, outcome: Outcome): Attributes {
    // Instances come and go for the life of the app: forget them all now and then rather than grow.
    if (this.attributes.size > MAX_REMEMBERED_INSTANCES) this.attributes.clear();
    let byMethod = this.attributes.get(instance.id);
    if (!byMethod) this.attributes.set(instance.id, (byMethod = new Map()));
    let byOutcome = byMethod.get(method);
    if (!byOutcome) byMethod.set(method, (byOutcome = new Map()));
    let attrs = byOutcome.get(outcome);
    if (!attrs) {
      attrs = {
        ...this.instanceAttrs(instance),
        [ATTR.method]: method,
        ...(typeof outcome === 'number' ? { [ATTR.statusCode]: outcome } : { [ATTR.errorType]: outcome }),
      };
      byOutcome.set(outcome, attrs);
    }
    return attrs;
  }

  private spanInstanceAttrs(instance: ServiceInstance): Attributes {
    if (this.spanInstanceAttributes.size > MAX_REMEMBERED_INSTANCES) this.spanInstanceAttributes.clear();
    let attrs = this.spanInstanceAttributes.get(instance.id);
    if (!attrs) {
      attrs = {
        [ATTR.serverAddress]: instance.address,
        [ATTR.serverPort]: instance.port,
        [ATTR.instanceId]: instance.id,
      };
      this.spanInstanceAttributes.set(instance.id, attrs);
    }
    return attrs;
  }

  private instanceAttrs(instance: ServiceInstance): Attributes {
    return { [ATTR.service]: this.service, [ATTR.serverAddress]: instance.address, [ATTR.serverPort]: instance.port };
  }
}

/**
 * A transport failure as a bounded `error.type`: `timeout`, undici's or the system's code
 * (`ECONNREFUSED`, `UND_ERR_SOCKET`), else the error's class. Never its message.
 */
export function transportOutcome(error: unknown): string {
  const err = error as { name?: string; code?: unknown; cause?: { code?: unknown } };
  if (err?.name === 'TimeoutError') return 'timeout';
  const code = err?.code ?? err?.cause?.code;
  return typeof code === 'string' && /^[A-Z_]{2,40}$/.test(code) ? code : (err?.name ?? 'Error');
}
