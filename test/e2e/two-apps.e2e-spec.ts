import { Injectable, Module } from '@nestjs/common';
import { type ClientGrpc, Transport } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import {
  ConsulHttpClient,
  ConsulModule,
  ConsulRegistrar,
  ConsulService,
  ConsulStatusService,
} from '../../lib/index.js';
import { grpcRegistry } from '../../lib/clients/grpc/grpc-registry.js';
import { INSTRUMENTS } from '../../lib/observability/instrument-names.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { type Greeter, HELLO_PROTO } from '../helpers/consul-microservice.js';
import { eventually } from '../helpers/eventually.js';
import { HttpUpstream } from '../helpers/http-upstream.js';
import { type MetricPoint, OtelSdk } from '../helpers/otel.js';
import { ttlInstance } from '../helpers/service-checks.js';
import { startGreeter } from '../helpers/upstreams.js';

@Injectable()
class Callers {
  constructor(
    @ConsulService('greeter') readonly grpc: ClientGrpc,
    @ConsulService('whoami') readonly http: ConsulHttpClient,
  ) {}
}

/** The same module in both apps: same client names, each app its own Consul and its own instances. */
@Module({
  imports: [
    ConsulModule.forFeature([
      { service: 'greeter', transport: Transport.GRPC, options: { package: 'hello', protoPath: HELLO_PROTO } },
      { service: 'whoami', transport: 'http', options: { timeout: '2s' } },
    ]),
  ],
  providers: [Callers],
  exports: [Callers],
})
class CallersModule {}

type Greeters = Array<Awaited<ReturnType<typeof startGreeter>>>;

/** One side: its agent, its upstreams (n of each), its MeterProvider, its app. */
interface Side {
  name: 'a' | 'b';
  agent: ConsulAgent;
  greeters: Greeters;
  whoami: HttpUpstream[];
  otel: OtelSdk;
  app?: TestApp;
}

async function startSide(name: 'a' | 'b', instances: number): Promise<Omit<Side, 'otel'>> {
  const agent = await ConsulAgent.start();
  const greeters: Greeters = [];
  const whoami: HttpUpstream[] = [];
  for (let i = 1; i <= instances; i++) {
    const greeter = await startGreeter(`${name}${i}`);
    greeters.push(greeter);
    await agent.register(ttlInstance(`greeter-${name}${i}`, 'greeter', greeter.port));
    whoami.push(await HttpUpstream.start(agent, 'whoami', `whoami-${name}${i}`));
  }
  await eventually(
    async () => (await agent.health('whoami')).every((e) => e.Checks.every((c) => c.Status === 'passing')),
    {
      what: `whoami passing on agent ${name}`,
    },
  );
  return { name, agent, greeters, whoami };
}

const hello = (side: Side) => async () =>
  (await firstValueFrom(side.app!.app.get(Callers).grpc.getService<Greeter>('Greeter').hello({ name: 'x' }))).message;
const who = (side: Side) => async () => (await side.app!.app.get(Callers).http.get<{ name: string }>('/who')).name;

/** What `side`'s app answers over `call`, `n` times. */
async function answers(call: () => Promise<string>, n = 20): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(await call());
  return seen;
}

const points = (all: MetricPoint[], name: string) => all.filter((p) => p.name === name);

describe('two apps in one process, each with its own Consul, same service names (real agents, real SDK)', () => {
  const sides: Side[] = [];
  let a: Side;
  let b: Side;

  beforeAll(async () => {
    // a has one instance of each upstream, b two: every gauge tells the apps apart.
    const [sa, sb] = await Promise.all([startSide('a', 1), startSide('b', 2)]);
    // Each app is created with its own MeterProvider registered (the API keeps one global at a
    // time): what app a reports must reach a's provider only, even after b is created.
    const otelA = OtelSdk.start({ traces: false });
    a = { ...sa, otel: otelA };
    sides.push(a);
    a.app = await startHttpApp(consulOptions(a.agent, { service: { name: 'caller_a' } }), { imports: [CallersModule] });
    otelA.unregister();
    const otelB = OtelSdk.start({ traces: false });
    b = { ...sb, otel: otelB };
    sides.push(b);
    b.app = await startHttpApp(consulOptions(b.agent, { service: { name: 'caller_b' } }), { imports: [CallersModule] });
    await Promise.all(sides.map((side) => side.app!.app.get(ConsulRegistrar).whenRegistered()));
  });

  afterAll(async () => {
    for (const side of sides) {
      await side.app?.app.close();
      await Promise.all(side.greeters.map((g) => g.app.close()));
      await Promise.all(side.whoami.map((u) => u.close()));
      await side.otel.shutdown();
      await side.agent?.stop();
    }
  });

  it("each app's calls reach only its own instances, over gRPC and HTTP", async () => {
    expect(await answers(hello(a))).toEqual(new Set(['a1:x']));
    expect(await answers(hello(b))).toEqual(new Set(['b1:x', 'b2:x']));
    expect(await answers(who(a))).toEqual(new Set(['whoami-a1']));
    expect(await answers(who(b))).toEqual(new Set(['whoami-b1', 'whoami-b2']));
  });

  it("each app's status snapshot shows its own registration, watches and clients only", () => {
    for (const [side, instances] of [
      [a, 1],
      [b, 2],
    ] as const) {
      const status = side.app!.app.get(ConsulStatusService).snapshot();
      expect(status.services.map((s) => s.service)).toEqual([`caller_${side.name}`]);
      expect(status.watches.map((w) => [w.service, w.instances]).toSorted()).toEqual([
        ['greeter', instances],
        ['whoami', instances],
      ]);
      expect(status.clients.map((c) => `${c.service}/${c.transport}`).toSorted()).toEqual(['whoami/http']);
    }
  });

  it("each app's metrics reach its own MeterProvider only", async () => {
    await answers(who(a), 5);
    await answers(who(b), 5);
    for (const [side, other, instances] of [
      [a, b, 1],
      [b, a, 2],
    ] as const) {
      const all = await side.otel.collect();
      // The registration gauge: this app's service, never the other's.
      const registered = points(all, INSTRUMENTS.registrationState.name).filter(
        (p) => p.attributes['consul.registration.state'] === 'registered',
      );
      expect(registered.map((p) => [p.attributes['consul.service'], p.value])).toEqual([[`caller_${side.name}`, 1]]);
      // One point per watched service, with this app's instance count.
      const watched = points(all, INSTRUMENTS.instances.name).map((p) => [p.attributes['consul.service'], p.value]);
      expect(watched.toSorted()).toEqual([
        ['greeter', instances],
        ['whoami', instances],
      ]);
      // HTTP durations name this app's upstreams' ports, and none of the other's.
      const ports = new Set(points(all, INSTRUMENTS.httpDuration.name).map((p) => p.attributes['server.port']));
      expect(ports.size).toBeGreaterThan(0);
      for (const port of ports) expect(side.whoami.map((u) => u.port)).toContain(port);
      for (const upstream of other.whoami) expect(ports).not.toContain(upstream.port);
    }
  });

  it('closing one app leaves the other calling and reporting', async () => {
    const { sources, balancers } = grpcRegistry();
    const before = [sources.size, balancers.size];
    await a.app!.app.close();
    a.app = undefined;
    // a's entries left the process-wide gRPC registry with it: its discovery and its client's balancer.
    expect([sources.size, balancers.size]).toEqual([before[0] - 1, before[1] - 1]);
    expect(await answers(hello(b))).toEqual(new Set(['b1:x', 'b2:x']));
    expect(await answers(who(b))).toEqual(new Set(['whoami-b1', 'whoami-b2']));
    // b's gauges still report, with b's numbers.
    await eventually(
      async () => (await b.otel.value(INSTRUMENTS.instances.name, { 'consul.service': 'greeter' })) === 2,
      { what: "b's instances gauge" },
    );
    const status = b.app!.app.get(ConsulStatusService).snapshot();
    expect(status.watches.map((w) => w.service).toSorted()).toEqual(['greeter', 'whoami']);
    expect(status.registration).toMatchObject({ service: 'caller_b', state: 'registered' });
    // b's instances change: its gauge follows, a's provider (its app closed) hears nothing of b.
    await b.agent.deregister('greeter-b2');
    await eventually(
      async () => (await b.otel.value(INSTRUMENTS.instances.name, { 'consul.service': 'greeter' })) === 1,
      { what: "b's instances gauge to drop to 1" },
    );
    expect(
      points(await a.otel.collect(), INSTRUMENTS.registrationState.name).map((p) => p.attributes['consul.service']),
    ).not.toContain('caller_b');
    expect(await answers(hello(b))).toEqual(new Set(['b1:x']));
  });
});
