import { Injectable, Module } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import { ConsulDiscoveryService, ConsulHttpClient, ConsulModule, ConsulService } from '../lib/index.js';
import { ConsulMetrics } from '../lib/observability/consul-metrics.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { OtelSdk } from '../test/helpers/otel.js';
import { registerTtl, startApp } from './context.js';
import { fmt, load, rate, table } from './stats.js';

@Injectable()
class Client {
  constructor(@ConsulService('bench_obs') readonly http: ConsulHttpClient) {}
}

@Module({
  imports: [ConsulModule.forFeature([{ service: 'bench_obs', transport: 'http' }])],
  providers: [Client],
})
class ClientModule {}

const ROUNDS = 7;

/**
 * 8. The cost of the instrumentation: choose() and the typed HTTP client with no SDK (the
 * API's no-op instruments) and with the real SDK registered globally (a MeterProvider with an
 * in-memory reader, a TracerProvider with an in-memory exporter), interleaved round by round so
 * drift on a busy machine hits both alike.
 */
export async function observabilityBench(agent: ConsulAgent): Promise<string> {
  const servers = await Promise.all([0, 1].map(() => jsonServer()));
  for (const [i, { port }] of servers.entries()) await registerTtl(agent, 'bench_obs', `obs-${i}`, port);
  const sdk = OtelSdk.start({ batch: true });
  sdk.unregister();
  const app = await startApp(agent.httpPort, {}, [ClientModule]);
  const discovery = app.get(ConsulDiscoveryService);
  const { http } = app.get(Client);
  const consulMetrics = app.get(ConsulMetrics); // the app's own
  const modes = ['none', 'metrics', 'traces'] as const;
  const results: Record<(typeof modes)[number], { choose: number[]; http: number[] }> = {
    none: { choose: [], http: [] },
    metrics: { choose: [], http: [] },
    traces: { choose: [], http: [] },
  };
  try {
    await discovery.choose('bench_obs');
    await load(() => http.get('/'), 1_000, 10); // warm-up: connections, JIT
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so a trend over the run does not favour one side.
      const order = round % 2 ? modes.toReversed() : modes;
      for (const mode of order) {
        sdk.unregister();
        if (mode !== 'none') sdk.register({ traces: mode === 'traces' });
        consulMetrics.bind();
        results[mode].choose.push(await rate(() => discovery.choose('bench_obs'), 1_000));
        results[mode].http.push((await load(() => http.get('/'), 2_000, 10)).perSecond);
      }
      sdk.exporter.reset(); // spans kept in memory: drop them between rounds
    }
  } finally {
    sdk.unregister();
    await app.close();
    await sdk.shutdown();
    await Promise.all(servers.map(({ server }) => new Promise((resolve) => server.close(resolve))));
  }
  const vsNone = (values: number[], none: number[]) => `${fmt((median(values) / median(none) - 1) * 100, 1)} %`;
  const row = (what: string, { none, metrics, traces }: { none: number[]; metrics: number[]; traces: number[] }) => [
    what,
    spread(none),
    spread(metrics),
    vsNone(metrics, none),
    spread(traces),
    vsNone(traces, none),
  ];
  const of = (key: 'choose' | 'http') => ({
    none: results.none[key],
    metrics: results.metrics[key],
    traces: results.traces[key],
  });
  return table(
    `5. Cost of the OpenTelemetry instrumentation (${ROUNDS} interleaved rounds, median and min–max)`,
    ['calls/s', 'no SDK (API no-ops)', 'metrics SDK', 'vs none', 'metrics + traces SDK', 'vs none'],
    [row('`choose()` from the cache', of('choose')), row('typed HTTP client, 10 in flight', of('http'))],
    [
      'Metrics SDK: a MeterProvider with an in-memory reader registered globally; each HTTP attempt records ' +
        '`http.client.request.duration`. Traces: also a TracerProvider (BatchSpanProcessor, in-memory exporter); ' +
        'each request makes a span. `choose()` records nothing on its path. Goals: no SDK within 3 % of the code ' +
        'without instrumentation, the SDK within 10 %.',
    ],
  );
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function spread(values: number[]): string {
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

async function jsonServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}
