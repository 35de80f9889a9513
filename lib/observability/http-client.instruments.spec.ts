import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ServiceInstance } from '../common/service-instance.js';
import { ConsulMetrics } from './consul-metrics.js';
import { HttpClientInstruments, transportOutcome } from './http-client.instruments.js';

class PullReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const instance = (id: string, port: number) => ({ id, address: '127.0.0.1', port }) as ServiceInstance;

describe('HttpClientInstruments', () => {
  afterEach(() => {
    metrics.disable();
    trace.disable();
  });

  it('with no SDK registered: no-op instruments and no span at all', async () => {
    const consul = new ConsulMetrics();
    consul.bind();
    const instruments = new HttpClientInstruments('billing', consul);
    const span = instruments.startRequest('GET');
    expect(span).toBeUndefined();
    expect(consul.recording).toBe(false);
    expect(() =>
      instruments.attempt(span, instance('a', 1), 'GET', 2, 'ECONNREFUSED', performance.now()),
    ).not.toThrow();

    // Bound to an SDK later, the same client records from then on, and only from then on.
    const reader = new PullReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    consul.bind();
    instruments.attempt(instruments.startRequest('GET'), instance('a', 1), 'GET', 1, 200, performance.now());
    const { resourceMetrics } = await reader.collect();
    const reported = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .filter((m) => m.dataPoints.length > 0)
      .map((m) => ({ name: m.descriptor.name, points: m.dataPoints.map((p) => p.attributes) }));
    expect(reported).toEqual([
      {
        name: 'http.client.request.duration',
        points: [expect.objectContaining({ 'server.port': 1, 'http.response.status_code': 200 })],
      },
    ]);
  });

  it('ends the span of a failed request with its error class', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    const consul = new ConsulMetrics();
    consul.bind();
    const instruments = new HttpClientInstruments('billing', consul);
    const failing = Promise.reject(
      Object.assign(new Error('GET /secret/path failed'), { name: 'ConsulHttpTransportError' }),
    );
    await expect(instruments.ended(instruments.startRequest('GET')!, failing)).rejects.toThrow('failed');
    const [span] = exporter.getFinishedSpans();
    expect(span.status).toEqual({ code: 2, message: 'ConsulHttpTransportError' });
    expect(span.attributes['error.type']).toBe('ConsulHttpTransportError');
  });

  it('records one duration per attempt with semantic-convention attributes, reusing the attribute objects', async () => {
    const reader = new PullReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    const consul = new ConsulMetrics();
    consul.bind();
    const seen: object[] = [];
    const record = consul.httpDuration.record.bind(consul.httpDuration);
    consul.httpDuration.record = (value, attributes) => (seen.push(attributes!), record(value, attributes));
    const instruments = new HttpClientInstruments('billing', consul);

    const span = instruments.startRequest('GET');
    instruments.attempt(span, instance('a', 8001), 'GET', 1, 'ECONNREFUSED', performance.now());
    instruments.attempt(span, instance('b', 8002), 'GET', 2, 200, performance.now());
    span?.end();
    instruments.attempt(undefined, instance('b', 8002), 'GET', 1, 200, performance.now());

    expect(seen[1]).toBe(seen[2]); // same instance, method and outcome: the same object
    const { resourceMetrics } = await reader.collect();
    const points = resourceMetrics.scopeMetrics[0].metrics.find(
      (m) => m.descriptor.name === 'http.client.request.duration',
    )!.dataPoints;
    expect(points.map((p) => p.attributes)).toEqual([
      {
        'consul.service': 'billing',
        'server.address': '127.0.0.1',
        'server.port': 8001,
        'http.request.method': 'GET',
        'error.type': 'ECONNREFUSED',
      },
      {
        'consul.service': 'billing',
        'server.address': '127.0.0.1',
        'server.port': 8002,
        'http.request.method': 'GET',
        'http.response.status_code': 200,
      },
    ]);
    const [finished] = exporter.getFinishedSpans();
    expect(finished.name).toBe('billing GET');
    expect(finished.attributes).toMatchObject({
      'consul.instance.id': 'b',
      'server.port': 8002,
      'consul.client.attempt': 2,
      'consul.client.retries': 1,
    });
    expect(finished.events.map((e) => e.attributes?.['consul.instance.id'])).toEqual(['a', 'b']);
  });
});

describe('transportOutcome', () => {
  it('is a bounded error type: timeout, a code, or the class; never the message', () => {
    expect(transportOutcome(Object.assign(new Error('aborted'), { name: 'TimeoutError' }))).toBe('timeout');
    expect(
      transportOutcome(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:80'), { code: 'ECONNREFUSED' })),
    ).toBe('ECONNREFUSED');
    expect(transportOutcome(new TypeError('fetch failed', { cause: { code: 'UND_ERR_SOCKET' } }))).toBe(
      'UND_ERR_SOCKET',
    );
    expect(transportOutcome(Object.assign(new Error('/secret/path'), { code: 'some /secret/path' }))).toBe('Error');
  });
});
