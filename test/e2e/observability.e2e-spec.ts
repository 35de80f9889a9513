import { Injectable, Module } from '@nestjs/common';
import { type ClientGrpc, Transport } from '@nestjs/microservices';
import { trace } from '@opentelemetry/api';
import { firstValueFrom } from 'rxjs';
import {
  ConsulDiscoveryService,
  ConsulHttpClient,
  ConsulLeaderService,
  ConsulModule,
  ConsulRegistrar,
  ConsulService,
  ConsulStatusService,
  NoAvailableInstanceError,
} from '../../lib/index.js';
import { INSTRUMENTS } from '../../lib/observability/instrument-names.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { consulOptions, startHttpApp } from '../helpers/consul-app.js';
import { eventually } from '../helpers/eventually.js';
import { HttpUpstream } from '../helpers/http-upstream.js';
import { type Greeter, HELLO_PROTO } from '../helpers/consul-microservice.js';
import { startGreeter } from '../helpers/upstreams.js';
import { freePort } from '../helpers/free-ports.js';
import { OtelSdk } from '../helpers/otel.js';
import { ttlInstance } from '../helpers/service-checks.js';

@Injectable()
class Caller {
  constructor(@ConsulService('billing') readonly http: ConsulHttpClient) {}
}

@Module({
  imports: [ConsulModule.forFeature([{ service: 'billing', transport: 'http', options: { retries: 1 } }])],
  providers: [Caller],
  exports: [Caller],
})
class CallerModule {}

@Injectable()
class GrpcCaller {
  constructor(@ConsulService('obs_greeter') readonly grpc: ClientGrpc) {}
}

@Module({
  imports: [
    ConsulModule.forFeature([
      { service: 'obs_greeter', transport: Transport.GRPC, options: { package: 'hello', protoPath: HELLO_PROTO } },
    ]),
  ],
  providers: [GrpcCaller],
  exports: [GrpcCaller],
})
class GrpcCallerModule {}

// What must never show up in an attribute: a request path, a KV value, a token.
const SECRET_PATH = '/invoices/secret-path-4711';
const SECRET_VALUE = 'kv-value-not-a-number-0815';
const TOKEN = 'token-9f1c7e2a-never-exported';

describe('OpenTelemetry metrics, spans and the status snapshot (real SDK, real Consul agent)', () => {
  const suite = useConsulAgent();
  const upstreams: HttpUpstream[] = [];
  let otel: OtelSdk;

  beforeAll(() => {
    // Before the app is created: the API hands out no-op meters until a provider is registered.
    otel = OtelSdk.start({ contextManager: true });
  });
  afterAll(async () => {
    await Promise.all(upstreams.splice(0).map((u) => u.close()));
    await otel.shutdown();
  });

  it('reports registration, discovery, clients, configuration and leadership; no attribute carries a path, a value or a token', async () => {
    const { agent } = suite;
    const put = (key: string, value: string) => agent.api(`/v1/kv/${key}`, { method: 'PUT', body: value });
    await put('config/obs_app/port', '8080');
    upstreams.push(await HttpUpstream.start(agent, 'billing', 'billing-1'));
    upstreams.push(await HttpUpstream.start(agent, 'billing', 'billing-2'));
    await eventually(
      async () =>
        (await agent.health('billing')).every((e) => e.Checks.every((c) => c.Status === 'passing')) &&
        (await agent.health('billing')).length === 2,
      { what: 'billing passing' },
    );

    const started = await startHttpApp(
      consulOptions(agent, {
        consul: { token: TOKEN },
        service: { name: 'obs_app' },
        config: {
          profiles: [],
          validate: (config) => {
            if (typeof config.port !== 'number') throw new Error('port must be a number');
            return config;
          },
        },
      }),
      { imports: [CallerModule] },
    );
    suite.apps.push(started);
    const { app } = started;
    const registrar = app.get(ConsulRegistrar);
    await registrar.whenRegistered();
    const registeredAt = Date.now();
    expect(await otel.value(INSTRUMENTS.registrationState.name, { 'consul.registration.state': 'registered' })).toBe(1);
    expect(await otel.value(INSTRUMENTS.registrationState.name, { 'consul.registration.state': 'waiting' })).toBe(0);

    // Discovery: two instances, then one goes critical and the gauge drops.
    const discovery = app.get(ConsulDiscoveryService);
    expect(await discovery.getInstances('billing')).toHaveLength(2);
    expect(await otel.value(INSTRUMENTS.instances.name, { 'consul.service': 'billing' })).toBe(2);

    // The typed client: a span names the instance that answered.
    const { http } = app.get(Caller);
    const answer = await http.get<{ name: string }>(SECRET_PATH, { query: { token: TOKEN } });
    const span = otel.spans().find((s) => s.name === 'billing GET');
    expect(span).toBeDefined();
    const answered = upstreams.find((u) => u.name === answer.name)!;
    expect(span!.attributes).toMatchObject({
      'consul.service': 'billing',
      'consul.instance.id': answered.name,
      'server.address': '127.0.0.1',
      'server.port': answered.port,
      'consul.client.attempt': 1,
      'consul.client.retries': 0,
      'http.response.status_code': 200,
    });
    expect(
      await otel.value(INSTRUMENTS.httpDuration.name, { 'server.port': answered.port, 'http.request.method': 'GET' }),
    ).toBe(1);

    const [gone] = upstreams.splice(upstreams.indexOf(answered), 1);
    await gone.close();
    await eventually(
      async () => (await otel.value(INSTRUMENTS.instances.name, { 'consul.service': 'billing' })) === 1,
      {
        what: 'the instances gauge to drop to 1',
      },
    );

    // An instance Consul says is passing but that refuses connections: retries on the other, then ejected.
    await agent.register(ttlInstance('billing-dead', 'billing', await freePort()));
    await eventually(
      async () => (await otel.value(INSTRUMENTS.instances.name, { 'consul.service': 'billing' })) === 2,
      {
        what: 'the dead instance to be seen',
      },
    );
    const live = upstreams.find((u) => u.name.startsWith('billing'))!;
    for (let i = 0; i < 8; i++) expect(await http.get<{ name: string }>('/x')).toEqual({ name: live.name });
    expect(await otel.value(INSTRUMENTS.clientRetries.name, { 'consul.service': 'billing' })).toBeGreaterThanOrEqual(3);
    expect(await otel.value(INSTRUMENTS.outlierEjections.name, { 'consul.service': 'billing' })).toBe(1);
    expect(
      await otel.value(INSTRUMENTS.httpDuration.name, { 'error.type': 'ECONNREFUSED', 'http.request.method': 'GET' }),
    ).toBeGreaterThanOrEqual(3);
    const retried = otel.spans().find((s) => s.name === 'billing GET' && s.attributes['consul.client.retries'] === 1);
    expect(retried?.attributes['consul.instance.id']).toBe(live.name);
    expect(retried?.events.map((e) => e.attributes?.['consul.instance.id'])).toEqual(['billing-dead', live.name]);
    expect(app.get(ConsulStatusService).snapshot().clients[0].ejected).toEqual(['billing-dead']);
    await agent.deregister('billing-dead');

    // No instance at all: the error is counted.
    await expect(discovery.getAvailableInstances('nobody_here')).rejects.toBeInstanceOf(NoAvailableInstanceError);
    expect(await otel.value(INSTRUMENTS.noAvailableInstance.name, { 'consul.service': 'nobody_here' })).toBe(1);

    // Configuration: a good change is applied, a bad one refused.
    const context = 'config/obs_app/';
    await put('config/obs_app/port', '9090');
    await eventually(
      async () =>
        (await otel.value(INSTRUMENTS.configReloads.name, {
          'consul.config.context': context,
          'consul.config.outcome': 'applied',
        })) === 1,
      { what: 'one reload applied' },
    );
    await put('config/obs_app/port', SECRET_VALUE);
    await eventually(
      async () =>
        (await otel.value(INSTRUMENTS.configReloads.name, {
          'consul.config.context': context,
          'consul.config.outcome': 'refused',
        })) === 1,
      { what: 'one reload refused' },
    );

    // Leadership.
    const election = app.get(ConsulLeaderService).elect('obs-report');
    await eventually(() => election.isLeader, { what: 'leadership' });
    expect(await otel.value(INSTRUMENTS.leadership.name, { 'consul.leader.election': 'obs-report' })).toBe(1);

    // The status snapshot.
    const status = app.get(ConsulStatusService).snapshot();
    expect(status.registration).toMatchObject({
      service: 'obs_app',
      instanceId: registrar.instanceId,
      state: 'registered',
      registered: true,
      reregistrations: 0,
    });
    expect(status.watches).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'service', service: 'billing' })]),
    );
    expect(status.config.map((c) => c.context)).toContain(context);
    expect(status.config.find((c) => c.context === context)!.index).toBeGreaterThan(0);
    expect(status.clients).toEqual([
      { service: 'billing', transport: 'http', balancer: 'RoundRobinBalancer', ejected: ['billing-dead'] },
    ]);
    expect(status.leadership).toEqual([expect.objectContaining({ election: 'obs-report', leading: true })]);
    expect(JSON.stringify(status)).not.toContain(TOKEN);
    expect(JSON.stringify(status)).not.toContain(SECRET_VALUE);

    // The agent forgets everything (a dev agent restarts empty): the instance registers again.
    await election.resign();
    // Not within the first 2 s of the registration: the registrar then registers the same definition
    // once more (check interval + 1 s, to sync the first check's output), and one sent to the
    // restarted agent puts the instance back without counting it (its own issue: seen as this test's
    // flake in fresh-clone CI).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, registeredAt + 2_500 - Date.now())));
    await agent.restart();
    const restartedAt = Date.now();
    let lastSeen: unknown;
    await eventually(
      async () => {
        const value = await otel.value(INSTRUMENTS.reregistrations.name, { 'consul.service': 'obs_app' });
        const { state, reregistrations } = app.get(ConsulRegistrar).state;
        lastSeen = { value, state, reregistrations };
        return value === 1;
      },
      // The registrar notices at once (the agent answers again) or within two check intervals; the
      // wait only bounds a stall. How fast it notices is registration-keep-alive.e2e-spec's job.
      { timeoutMs: 45_000, what: 're-registrations to rise' },
    ).catch((error: unknown) => {
      throw new Error(
        `${(error as Error).message}; last seen ${JSON.stringify(lastSeen)}\n${started.logger.text.slice(-3000)}`,
      );
    });
    process.stdout.write(`[observability] re-registered ${Date.now() - restartedAt} ms after the agent restarted\n`);
    expect(app.get(ConsulStatusService).snapshot().registration?.reregistrations).toBe(1);
    // The watches lost the agent for a moment.
    expect(await otel.value(INSTRUMENTS.watchErrors.name, { 'consul.service': 'billing' })).toBeGreaterThan(0);

    // Everything exported: only our instruments, and no attribute with a path, a value or a token.
    const points = (await otel.collect()).filter((p) => p.scope === 'nestjs-consul-kit');
    const known = new Set<string>(Object.values(INSTRUMENTS).map((i) => i.name));
    expect(points.map((p) => p.name).filter((name) => !known.has(name))).toEqual([]);
    const values = [
      ...points.flatMap((p) => Object.values(p.attributes)),
      ...otel
        .spans()
        .flatMap((s) => [
          s.name,
          ...Object.values(s.attributes),
          ...s.events.flatMap((e) => Object.values(e.attributes ?? {})),
        ]),
    ].map(String);
    expect(values.length).toBeGreaterThan(50);
    for (const forbidden of [SECRET_PATH, 'secret-path', SECRET_VALUE, TOKEN, '9090']) {
      expect(values.filter((v) => v.includes(forbidden))).toEqual([]);
    }
  }, 90_000);

  it('names the instance our gRPC policy picked on the span active at the call', async () => {
    const { agent } = suite;
    const greeters = await Promise.all([startGreeter('g1'), startGreeter('g2')]);
    try {
      for (const [i, g] of greeters.entries()) {
        await agent.register(ttlInstance(`obs-greeter-${i}`, 'obs_greeter', g.port));
      }
      const started = await startHttpApp(consulOptions(agent, {}), { imports: [GrpcCallerModule] });
      suite.apps.push(started);
      const greeter = started.app.get(GrpcCaller).grpc.getService<Greeter>('Greeter');
      await firstValueFrom(greeter.hello({ name: 'warm-up' })); // connected: later picks run in the caller's context
      const tracer = trace.getTracer('test');
      const message = await tracer.startActiveSpan('caller', async (span) => {
        try {
          return (await firstValueFrom(greeter.hello({ name: 'x' }))).message;
        } finally {
          span.end();
        }
      });
      const caller = otel.spans().find((s) => s.name === 'caller')!;
      const answered = greeters[message.startsWith('g1:') ? 0 : 1];
      expect(caller.attributes).toMatchObject({
        'consul.instance.id': `obs-greeter-${greeters.indexOf(answered)}`,
        'server.port': answered.port,
      });
      expect(caller.events.map((e) => e.name)).toEqual(['consul.pick']);
    } finally {
      await Promise.all(greeters.map((g) => g.app.close()));
    }
  });
});
