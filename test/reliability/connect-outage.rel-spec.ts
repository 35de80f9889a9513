import { Controller, Get, Injectable, Module } from '@nestjs/common';
import {
  ConsulHttpClient,
  ConsulModule,
  ConsulService,
  UpstreamHttpResponseError,
  consulConnectHttpsOptions,
} from '../../lib/index.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { createIntention } from '../helpers/connect-peer.js';
import { CountingTcpRelay } from '../helpers/counting-proxy.js';
import { eventually } from '../helpers/eventually.js';
import { failureSummary, steadyLoad } from '../helpers/steady-load.js';
import { report } from './report.js';

/** Longer than two decision lifetimes (10 s): every decision api holds falls due during it. */
const OUTAGE_MS = 25_000;

@Controller()
class HelloController {
  @Get('hello')
  hello() {
    return { hello: 'api' };
  }
}

@Injectable()
class ApiCaller {
  constructor(@ConsulService('api') readonly api: ConsulHttpClient) {}
}

@Module({
  imports: [
    ConsulModule.forFeature([
      { service: 'api', transport: 'http', options: { connect: true, timeout: '2s', retries: 0 } },
    ]),
  ],
  providers: [ApiCaller],
})
class ApiCallerModule {}

/**
 * The Connect server "api" cut off from its agent for 25 s (its TCP relay to the agent closed),
 * while its callers and Consul's check still reach it. Callers it has decided keep their last
 * decision: "web" (allowed) keeps calling, "blocked" (denied by an intention) stays refused; a
 * caller it never saw gets a 503 until the agent is back.
 */
describe(`A Connect server cut off from its agent for ${OUTAGE_MS / 1000} s`, () => {
  let agent: ConsulAgent;
  let line: CountingTcpRelay;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    agent = await ConsulAgent.start();
    line = await CountingTcpRelay.start(agent.httpPort);
  });

  afterAll(async () => {
    for (const started of apps.toReversed()) await started.app.close();
    await line?.stop();
    await agent?.stop();
  });

  /** A Connect-native app `name` with a Connect client of api, talking to the agent directly. */
  async function startCaller(name: string): Promise<ConsulHttpClient> {
    const started = await startHttpApp(consulOptions(agent, { service: { name }, connect: { native: true } }), {
      imports: [ApiCallerModule],
      httpsOptions: consulConnectHttpsOptions(),
    });
    apps.push(started);
    return started.app.get(ApiCaller).api;
  }

  const outcome = (call: Promise<unknown>) =>
    call.then(
      () => 'answered',
      (error: unknown) => (error instanceof UpstreamHttpResponseError ? error.status : (error as Error).message),
    );

  it('keeps the decisions it holds (allowed and denied), refuses a new caller with 503, and is back after', async () => {
    const api = await startHttpApp(
      consulOptions(agent, {
        consul: { port: line.port },
        service: { name: 'api' },
        connect: { native: true },
      }),
      { controllers: [HelloController], httpsOptions: consulConnectHttpsOptions() },
    );
    apps.push(api);
    await createIntention(agent, 'blocked', 'api', 'deny');
    const web = await startCaller('web');
    const blocked = await startCaller('blocked');
    const newcomer = await startCaller('newcomer');
    await eventually(() => web.get('/hello').catch(() => undefined), { what: 'a first answer of api to web' });
    expect(await outcome(blocked.get('/hello'))).toBe(403);

    const load = steadyLoad({ perSecond: 20, durationMs: OUTAGE_MS + 4_000, call: () => web.get('/hello') });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await line.cut();
    const cutAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 12_000)); // past every decision's 10 s
    const during = {
      blocked: await outcome(blocked.get('/hello')),
      newcomer: await outcome(newcomer.get('/hello')),
    };
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, cutAt + OUTAGE_MS - Date.now())));
    await line.restore();
    const restoredAt = Date.now();
    const newcomerBackMs =
      (await eventually(() => outcome(newcomer.get('/hello')).then((answer) => answer === 'answered'), {
        intervalMs: 100,
        timeoutMs: 15_000,
        what: 'api admitting the newcomer once its agent is back',
      })) && Date.now() - restoredAt;
    const records = await load.done;

    // Nest's Logger sends every app's lines in this process to the last app created: look at them all.
    const kept = apps
      .flatMap((started) => started.logger.lines)
      .filter((text) => text.includes('keeping its last decision'));
    report(`Connect server cut off from its agent for ${OUTAGE_MS / 1000} s`, {
      webCalls: records.length,
      webFailed: records.filter((record) => record.error).length,
      blockedDuring: String(during.blocked),
      newcomerDuring: String(during.newcomer),
      newcomerBackMs,
      keptWarnings: kept.length,
    });
    expect(failureSummary(records)).toEqual({});
    expect(during).toEqual({ blocked: 403, newcomer: 503 });
    expect(kept).toHaveLength(2);
    expect(kept.join('\n')).toMatch(/"web" may call "api" .*\(allowed\)/);
    expect(kept.join('\n')).toMatch(/"blocked" may call "api" .*\(denied\)/);
    expect(await outcome(blocked.get('/hello'))).toBe(403);
  }, 90_000);
});
