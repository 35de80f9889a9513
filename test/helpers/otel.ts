import { context, metrics, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader, type DataPoint } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** A pull reader: the test collects when it wants, nothing runs in the background. */
class InMemoryReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** One exported metric point, flattened. */
export interface MetricPoint {
  scope: string;
  name: string;
  unit: string;
  attributes: Attributes;
  value: number | { count: number; sum?: number };
}

/** The real OpenTelemetry SDK, registered globally: an in-memory metric reader and span exporter. */
export class OtelSdk {
  private constructor(
    private readonly reader: InMemoryReader,
    private readonly meterProvider: MeterProvider,
    private readonly tracerProvider: BasicTracerProvider,
    readonly exporter: InMemorySpanExporter,
  ) {}

  /** Registers a MeterProvider (and, unless `traces: false`, a TracerProvider) globally. */
  static start({
    traces = true,
    batch = false,
    contextManager = false,
  }: { traces?: boolean; batch?: boolean; contextManager?: boolean } = {}): OtelSdk {
    // What the Node SDK sets up: the active span follows async calls (needed to see a span as a parent).
    if (contextManager) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const reader = new InMemoryReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(meterProvider);
    const exporter = new InMemorySpanExporter();
    // Simple: a test sees each span as soon as it ends. Batch: what production runs.
    const processor = batch ? new BatchSpanProcessor(exporter) : new SimpleSpanProcessor(exporter);
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [processor] });
    if (traces) trace.setGlobalTracerProvider(tracerProvider);
    return new OtelSdk(reader, meterProvider, tracerProvider, exporter);
  }

  /** Every point every instrument reports now. */
  async collect(): Promise<MetricPoint[]> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length) throw new Error(`metric collection failed: ${errors.map(String).join('; ')}`);
    return resourceMetrics.scopeMetrics.flatMap(({ scope, metrics: list }) =>
      list.flatMap(({ descriptor, dataPoints }) =>
        (dataPoints as Array<DataPoint<unknown>>).map((point) => ({
          scope: scope.name,
          name: descriptor.name,
          unit: descriptor.unit,
          attributes: point.attributes,
          value:
            typeof point.value === 'number'
              ? point.value
              : { count: (point.value as { count: number }).count, sum: (point.value as { sum?: number }).sum },
        })),
      ),
    );
  }

  /** The value of the point of `name` whose attributes include `match` (undefined if none). */
  async value(name: string, match: Attributes = {}): Promise<number | undefined> {
    const point = (await this.collect()).find(
      (p) => p.name === name && Object.entries(match).every(([k, v]) => p.attributes[k] === v),
    );
    if (!point) return undefined;
    return typeof point.value === 'number' ? point.value : point.value.count;
  }

  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  /** Registers the providers globally again (after {@link unregister}); the TracerProvider unless `traces: false`. */
  register({ traces = true }: { traces?: boolean } = {}): void {
    metrics.setGlobalMeterProvider(this.meterProvider);
    if (traces) trace.setGlobalTracerProvider(this.tracerProvider);
  }

  /** Unregisters both providers: the API's globals go back to no-ops. */
  unregister(): void {
    metrics.disable();
    trace.disable();
  }

  /** Unregisters both providers (and the context manager) and shuts them down. */
  async shutdown(): Promise<void> {
    this.unregister();
    context.disable();
    await Promise.all([this.meterProvider.shutdown(), this.tracerProvider.shutdown()]);
  }
}
