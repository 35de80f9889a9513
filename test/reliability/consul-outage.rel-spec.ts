import { Injectable, Module } from '@nestjs/common';
import {
  ConsulConfigService,
  ConsulDiscoveryService,
  ConsulHttpClient,
  ConsulModule,
  ConsulRegistrar,
  ConsulService,
} from '../../lib/index.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { startAppBehind, type TestApp } from '../helpers/consul-app.js';
import { CountingTcpRelay } from '../helpers/counting-proxy.js';
import { eventually } from '../helpers/eventually.js';
import { HttpUpstream } from '../helpers/http-upstream.js';
import { failureSummary, steadyLoad } from '../helpers/steady-load.js';
import { report } from './report.js';

const OUTAGE_MS = 60_000;

@Injectable()
class WhoCaller {
  constructor(@ConsulService('who') readonly who: ConsulHttpClient) {}
}

@Module({
  imports: [ConsulModule.forFeature([{ service: 'who', transport: 'http', options: { timeout: '2s' } }])],
  providers: [WhoCaller],
})
class WhoCallerModule {}

/**
 * Timers and sockets of this process, by kind (what `process.getActiveResourcesInfo()` lists), once
 * idle keep-alive connections have had time to close (Node's HTTP servers: 5 s, the module's
 * connections to the agent: 10 s). The smallest count of each kind over 20 samples, 100 ms apart:
 * a timer that comes and goes (a loop between two requests) is not held, a leaked one is in every sample.
 */
async function settledResources(): Promise<Record<string, number>> {
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const lowest: Record<string, number> = activeResources();
  for (let sample = 1; sample < 20; sample++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const counts = activeResources();
    for (const kind of Object.keys(lowest)) lowest[kind] = Math.min(lowest[kind], counts[kind] ?? 0);
  }
  return lowest;
}

function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

describe(`Consul unreachable for ${OUTAGE_MS / 1000} s while the app runs`, () => {
  let agent: ConsulAgent;
  let line: CountingTcpRelay;
  let app: TestApp;
  const upstreams: HttpUpstream[] = [];

  beforeAll(async () => {
    agent = await ConsulAgent.start();
    line = await CountingTcpRelay.start(agent.httpPort);
    app = await startAppBehind(
      agent,
      line.port,
      upstreams,
      {
        service: { name: 'outage_app' },
        // The defaults (the test helper shortens them): after 60 s away every loop sleeps up to 30 s.
        registration: { retry: { initialDelay: '1s', maxDelay: '30s' } },
        discovery: { retry: { initialDelay: '1s', maxDelay: '30s' } },
      },
      { imports: [WhoCallerModule] },
    );
  }, 60_000);

  afterAll(async () => {
    await app?.app.close();
    await Promise.all(upstreams.map((upstream) => upstream.close()));
    await line?.stop();
    await agent?.stop();
  });

  it('keeps serving from the last known instances and configuration, says so once, leaks nothing', async () => {
    const { who } = app.app.get(WhoCaller);
    const discovery = app.app.get(ConsulDiscoveryService);
    const config = app.app.get(ConsulConfigService);
    await app.app.get(ConsulRegistrar).whenRegistered();
    await eventually(async () => (await discovery.getInstances('who')).length === 2, { what: 'two who instances' });
    expect(config.get('greeting')).toBe('hello');
    // Warm up the connection pools, then count timers and sockets.
    await steadyLoad({ perSecond: 50, durationMs: 2_000, call: () => who.get('/who') }).done;
    const before = await settledResources();
    const linesBefore = app.logger.lines.length;

    const load = steadyLoad({ perSecond: 20, durationMs: OUTAGE_MS + 10_000, call: () => who.get('/who') });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await line.cut();
    const cutAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
    // Half-way through: still the last known configuration.
    expect(config.get('greeting')).toBe('hello');
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
    await line.restore();
    const restoredAt = Date.now();

    // Everything resumes: the watch answers again and a configuration change reaches the app.
    await eventually(() => (discovery.watchStats('who')?.lastContact ?? 0) > restoredAt, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the watch of "who" to reach Consul again',
    });
    const watchBackMs = Date.now() - restoredAt;
    // Not up to 30 s later: the client's probe (1/s while Consul is away) wakes every sleeping loop.
    expect(watchBackMs).toBeLessThan(3_000);
    await agent.api('/v1/kv/config/outage_app/greeting', { method: 'PUT', body: 'hello again' });
    await eventually(() => config.get('greeting') === 'hello again', { what: 'the configuration change' });
    const records = await load.done;
    const after = await settledResources();
    // And a new instance is delivered (after the count: its server and connections are the test's).
    upstreams.push(await HttpUpstream.start(agent, 'who', 'who-3'));
    await eventually(async () => (await discovery.getInstances('who')).length === 3, {
      what: 'the watch to deliver who-3 after the outage',
    });

    const outageLines = app.logger.lines.slice(linesBefore);
    const failed = records.filter((record) => record.error);
    report('consul-unreachable', {
      outage_ms: restoredAt - cutAt,
      calls: records.length,
      failed_calls: failed.length,
      warn_lines: outageLines.filter((l) => l.startsWith('WARN')).length,
      back_lines: outageLines.filter((l) => l.startsWith('LOG [ConsulApi]')).length,
      watch_back_after_restore_ms: watchBackMs,
      timers_before: before.Timeout ?? 0,
      timers_after: after.Timeout ?? 0,
      sockets_before: before.TCPSocketWrap ?? 0,
      sockets_after: after.TCPSocketWrap ?? 0,
    });

    expect(failureSummary(records)).toEqual({});
    expect(records.length).toBe(1_400);
    expect(outageLines.filter((l) => l.startsWith('WARN') || l.startsWith('ERROR'))).toEqual([
      expect.stringMatching(/^WARN \[ConsulApi\] Consul at .* could not .*Retrying in the background/),
    ]);
    expect(outageLines.filter((l) => l.startsWith('LOG [ConsulApi]'))).toEqual([
      expect.stringMatching(/answers again after 6\d\.\d s/),
    ]);
    // No timer or socket left behind by 60 s of failing requests and retries: the same kinds
    // and counts as before.
    expect(after).toEqual(before);
    // The agent never lost the registration; the app's check kept passing throughout.
    const entry = (await agent.health('outage_app'))[0];
    expect(entry?.Checks.every((check) => check.Status === 'passing')).toBe(true);
  }, 150_000);
});
