import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type ClientGrpc, Transport } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import {
  ConsulClientProxy,
  ConsulGrpcClient,
  ConsulHttpClient,
  ConsulModule,
  ConsulService,
  NoAvailableInstanceError,
} from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import type { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { type Greeter, HELLO_PROTO } from '../helpers/consul-microservice.js';
import { CountingTcpRelay } from '../helpers/counting-proxy.js';
import { eventually } from '../helpers/eventually.js';
import { ttlInstance } from '../helpers/service-checks.js';
import { startGreeter, startTcpWhoAmI, whoAmI } from '../helpers/upstreams.js';

@Injectable()
class Callers {
  constructor(
    @ConsulService('greeter') readonly grpc: ClientGrpc,
    @ConsulService('whoami') readonly http: ConsulHttpClient,
  ) {}
}

@Module({
  imports: [
    ConsulModule.forFeature([
      { service: 'greeter', transport: Transport.GRPC, options: { package: 'hello', protoPath: HELLO_PROTO } },
      { service: 'whoami', transport: 'http', options: { timeout: '2s', retries: 2 } },
    ]),
  ],
  providers: [Callers],
  exports: [Callers],
})
class CallersModule {}

/** Calls `call` `total` times, `concurrency` at a time; counts answers by value and failures. */
async function load(total: number, concurrency: number, call: () => Promise<string>, during?: (done: number) => void) {
  const answers = new Map<string, number>();
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const n = next++;
        during?.(n);
        try {
          const answer = await call();
          answers.set(answer, (answers.get(answer) ?? 0) + 1);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    }),
  );
  return { answers, failures };
}

describe('@ConsulService typed clients (real Consul agent, real upstream servers)', () => {
  const suite = useConsulAgent();
  let agent: ConsulAgent;
  let caller: TestApp;
  let callers: Callers;

  beforeAll(async () => {
    agent = suite.agent;
    caller = await startHttpApp(
      consulOptions(agent, { service: { name: 'caller' }, registration: { enabled: false } }),
      {
        imports: [CallersModule],
      },
    );
    callers = caller.app.get(Callers);
  });
  afterAll(async () => {
    await caller?.app.close();
  });

  describe('gRPC', () => {
    it('balances calls over both instances on one shared channel, one connection per instance, and loses no call when one leaves under load', async () => {
      const [a, b] = await Promise.all([startGreeter('a'), startGreeter('b')]);
      const [relayA, relayB] = await Promise.all([CountingTcpRelay.start(a.port), CountingTcpRelay.start(b.port)]);
      try {
        for (const [id, relay] of [
          ['greeter-a', relayA],
          ['greeter-b', relayB],
        ] as const) {
          await agent.register(ttlInstance(id, 'greeter', relay.port));
        }
        const client = callers.grpc as ConsulGrpcClient;
        const greeter = client.getService<Greeter>('Greeter');
        const hello = async () => (await firstValueFrom(greeter.hello({ name: 'x' }))).message;

        const warm = await load(1_000, 10, hello);
        expect(warm.failures).toEqual([]);
        expect(warm.answers.get('a:x')).toBeGreaterThan(300);
        expect(warm.answers.get('b:x')).toBeGreaterThan(300);
        // Structure, not timing: one channel, one connection per instance for 1,000 calls, not one per call.
        expect([relayA.connections, relayB.connections]).toEqual([1, 1]);
        // One channel per target: a second stub of the same client shares it.
        expect(client.getClientByServiceName('Greeter')).toBe(client.getClientByServiceName('Greeter'));
        // ...and that stub's grpc-js client runs on the client's one channel, not one of its own.
        expect((client.getClientByServiceName('Greeter') as { getChannel(): unknown }).getChannel()).toBe(
          client.channel,
        );

        // Instance b leaves gracefully (as ConsulRegistrar does it): deregister, drain, stop.
        const result = await load(400, 10, hello, (n) => {
          if (n === 100) {
            void (async () => {
              await agent.deregister('greeter-b');
              await new Promise((resolve) => setTimeout(resolve, 300));
              await b.app.close();
            })();
          }
        });
        expect(result.failures).toEqual([]);
        expect(result.answers.get('a:x')).toBeGreaterThan(200);
      } finally {
        await agent.deregister('greeter-a');
        await agent.deregister('greeter-b');
        await Promise.all([a.app.close(), b.app.close(), relayA.stop(), relayB.stop()]);
      }
    });

    it('retries a call on another instance when its instance dies without deregistering', async () => {
      const [a, b] = await Promise.all([startGreeter('a'), startGreeter('b')]);
      try {
        await agent.register(ttlInstance('greeter-a', 'greeter', a.port));
        await agent.register(ttlInstance('greeter-b', 'greeter', b.port));
        const greeter = callers.grpc.getService<Greeter>('Greeter');
        const hello = async () => (await firstValueFrom(greeter.hello({ name: 'y' }))).message;
        await eventually(async () => (await load(20, 2, hello)).answers.size === 2, {
          what: 'both instances answering',
        });

        await b.app.close(); // still in the catalog: callers must route around it
        const result = await load(100, 5, hello);
        expect(result.failures).toEqual([]);
        expect(result.answers.get('a:y')).toBe(100);
      } finally {
        await agent.deregister('greeter-a');
        await agent.deregister('greeter-b');
        await Promise.all([a.app.close(), b.app.close()]);
      }
    });
  });

  describe('HTTP', () => {
    it('spreads requests over instances and loses none when one shuts down gracefully under load', async () => {
      const upstreams = await Promise.all(
        ['one', 'two'].map((name) =>
          startHttpApp(consulOptions(agent, { service: { name: 'whoami' }, registration: { drainDelay: '300ms' } }), {
            controllers: [whoAmI(name)],
          }),
        ),
      );
      try {
        await eventually(
          async () =>
            (await agent.health('whoami')).filter((e) => e.Checks.every((c) => c.Status === 'passing')).length === 2,
          {
            what: 'two passing whoami instances',
          },
        );
        const who = async () => (await callers.http.get<{ name: string }>('/who')).name;
        const warm = await load(100, 5, who);
        expect(warm.failures).toEqual([]);
        expect(warm.answers.get('one')).toBeGreaterThan(25);
        expect(warm.answers.get('two')).toBeGreaterThan(25);

        const result = await load(300, 5, who, (n) => {
          if (n === 50) void upstreams[1].app.close();
        });
        expect(result.failures).toEqual([]);
        expect(result.answers.get('one')).toBeGreaterThan(150);
      } finally {
        await Promise.all(upstreams.map(({ app }) => app.close()));
      }
    });

    it('throws NoAvailableInstanceError when no instance passes', async () => {
      const error = await callers.http.get('/who').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NoAvailableInstanceError);
      expect((error as Error).message).toContain('"whoami"');
    });
  });

  it('fails at bootstrap, naming the service and the module, when a client was never registered', async () => {
    @Injectable()
    class Orphan {
      constructor(@ConsulService('never_registered') readonly client: unknown) {}
    }
    @Module({ providers: [Orphan] })
    class OrphanModule {}
    @Module({
      imports: [
        ConsulModule.forRoot(consulOptions(agent, { service: { name: 'x' }, registration: { enabled: false } })),
        OrphanModule,
      ],
    })
    class AppModule {}
    const error = await NestFactory.create(AppModule, { logger: false, abortOnError: false }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('CONSUL:SERVICE:never_registered');
    expect((error as Error).message).toContain("ConsulModule.forFeature([{ service: 'never_registered', transport }])");
    expect((error as Error).message).toContain('OrphanModule');
  });
});

describe('@ConsulService with a Nest TCP transport (real Consul agent, real TCP microservices)', () => {
  const suite = useConsulAgent();

  it('spreads send() over instances with one cached client each, and closes the client of an instance that leaves', async () => {
    const agent = suite.agent;
    const upstreams = await Promise.all(['left', 'right'].map((name) => startTcpWhoAmI(name)));
    @Injectable()
    class TcpCaller {
      constructor(@ConsulService('tcp_who') readonly client: ConsulClientProxy) {}
    }
    @Module({
      imports: [ConsulModule.forFeature([{ service: 'tcp_who', transport: Transport.TCP }])],
      providers: [TcpCaller],
    })
    class TcpCallerModule {}
    const caller = await startHttpApp(
      consulOptions(agent, { service: { name: 'tcp_caller' }, registration: { enabled: false } }),
      {
        imports: [TcpCallerModule],
      },
    );
    try {
      for (const [i, upstream] of upstreams.entries()) {
        await agent.register(ttlInstance(`tcp-${i}`, 'tcp_who', upstream.port));
      }
      const client = caller.app.get(TcpCaller).client;
      const who = () => firstValueFrom(client.send<string>('who', {}));
      const result = await load(100, 4, who);
      expect(result.failures).toEqual([]);
      expect(result.answers.get('left')).toBeGreaterThan(25);
      expect(result.answers.get('right')).toBeGreaterThan(25);
      expect(client.openInstances.toSorted()).toEqual(['tcp-0', 'tcp-1']);

      await agent.deregister('tcp-1');
      await eventually(() => client.openInstances.join() === 'tcp-0', { what: 'the client of tcp-1 to close' });
      expect((await load(20, 2, who)).answers.get('left')).toBe(20);
    } finally {
      await agent.deregister('tcp-0');
      await caller.app.close();
      await Promise.all(upstreams.map(({ app }) => app.close()));
    }
  });
});

describe('loadBalancer reaches every transport: least-outstanding and weighted for gRPC and a ClientProxy (real Consul agent)', () => {
  const suite = useConsulAgent();
  // Each upstream holds its "slow" calls until its gate opens.
  const gate = () => {
    let open!: () => void;
    const closed = new Promise<void>((resolve) => (open = resolve));
    return { closed, open };
  };
  const grpcGate = gate();
  const tcpGate = gate();
  let greeters: Array<Awaited<ReturnType<typeof startGreeter>>> = [];
  let tcps: Array<Awaited<ReturnType<typeof startTcpWhoAmI>>> = [];
  let caller: TestApp;
  let clients: BalancedCallers;

  @Injectable()
  class BalancedCallers {
    constructor(
      @ConsulService('lo_greeter') readonly leastOutstanding: ClientGrpc,
      @ConsulService('w_greeter') readonly weighted: ClientGrpc,
      @ConsulService('lo_tcp') readonly proxy: ConsulClientProxy,
    ) {}
  }

  beforeAll(async () => {
    const agent = suite.agent;
    const [grpcHold, tcpHold] = [{ hold: grpcGate.closed }, { hold: tcpGate.closed }];
    greeters = await Promise.all([startGreeter('a', grpcHold), startGreeter('b', grpcHold)]);
    tcps = await Promise.all([startTcpWhoAmI('left', tcpHold), startTcpWhoAmI('right', tcpHold)]);
    for (const [i, greeter] of greeters.entries()) {
      const passing = i === 0 ? 3 : 1; // "a" weighs 3, "b" 1 (used by w_greeter)
      for (const name of ['lo_greeter', 'w_greeter']) {
        await agent.register({
          ID: `${name}-${greeter.port}`,
          Name: name,
          Address: '127.0.0.1',
          Port: greeter.port,
          Weights: { Passing: passing, Warning: 1 },
          Check: { TTL: '60s', Status: 'passing' },
        });
      }
    }
    for (const [i, tcp] of tcps.entries()) {
      await agent.register({
        ID: `lo-tcp-${i}`,
        Name: 'lo_tcp',
        Address: '127.0.0.1',
        Port: tcp.port,
        Check: { TTL: '60s', Status: 'passing' },
      });
    }
    const grpcOptions = { package: 'hello', protoPath: HELLO_PROTO };
    @Module({
      imports: [
        ConsulModule.forFeature([
          { service: 'lo_greeter', transport: Transport.GRPC, options: grpcOptions, loadBalancer: 'least-outstanding' },
          { service: 'lo_tcp', transport: Transport.TCP, loadBalancer: 'least-outstanding' },
          // No loadBalancer: the module-wide default, discovery.loadBalancer ('weighted' below).
          { service: 'w_greeter', transport: Transport.GRPC, options: grpcOptions },
        ]),
      ],
      providers: [BalancedCallers],
    })
    class CallerModule {}
    caller = await startHttpApp(
      consulOptions(agent, {
        service: { name: 'balanced_caller' },
        registration: { enabled: false },
        discovery: { loadBalancer: 'weighted' },
      }),
      { imports: [CallerModule] },
    );
    clients = caller.app.get(BalancedCallers);
  });
  afterAll(async () => {
    grpcGate.open();
    tcpGate.open();
    await caller?.app.close();
    await Promise.all([...greeters, ...tcps].map(({ app }) => app.close()));
  });

  it('gRPC, least-outstanding: while one instance holds a slow call, every next call goes to the other', async () => {
    const greeter = clients.leastOutstanding.getService<Greeter>('Greeter');
    const hello = async (name = 'x') => (await firstValueFrom(greeter.hello({ name }))).message;
    // Both connections up first: the policy balances over READY instances only.
    await eventually(async () => (await load(20, 2, hello)).answers.size === 2, { what: 'both greeters answering' });

    const slow = hello('slow');
    await eventually(() => greeters.some((g) => g.held() === 1), { what: 'the slow call to arrive' });
    const busy = greeters[0].held() === 1 ? 'a' : 'b';
    const idle = busy === 'a' ? 'b' : 'a';
    const during = await load(30, 1, () => hello());
    expect(during.failures).toEqual([]);
    // Structure, not timing: power of two choices over two instances always takes the less busy one.
    expect(Object.fromEntries(during.answers)).toEqual({ [`${idle}:x`]: 30 });

    grpcGate.open();
    expect(await slow).toBe(`${busy}:slow`);
    // The slow call's lease ended with it: both instances take calls again.
    const after = await load(60, 1, () => hello());
    expect(after.answers.get('a:x')).toBeGreaterThan(5);
    expect(after.answers.get('b:x')).toBeGreaterThan(5);
  });

  it('gRPC, weighted (the module default): Consul weights 3:1 give a 3:1 split', async () => {
    const greeter = clients.weighted.getService<Greeter>('Greeter');
    const hello = async () => (await firstValueFrom(greeter.hello({ name: 'w' }))).message;
    await eventually(async () => (await load(20, 2, hello)).answers.size === 2, { what: 'both greeters answering' });
    const n = 800;
    const { answers, failures } = await load(n, 8, hello);
    expect(failures).toEqual([]);
    // 0.75 ± 5 binomial sigmas (±0.077 over 800 calls).
    expect(Math.abs((answers.get('a:w') ?? 0) / n - 0.75)).toBeLessThan(0.077);
  });

  it('ClientProxy, least-outstanding: a send() in flight keeps its instance busy until it completes or is unsubscribed', async () => {
    const client = clients.proxy;
    const who = () => firstValueFrom(client.send<string>('who', {}));
    await eventually(async () => (await load(20, 2, who)).answers.size === 2, { what: 'both TCP instances answering' });
    const inFlight = client.send<string>('slow', {}).subscribe();
    await eventually(() => tcps.some((t) => t.held() === 1), { what: 'the slow send() to arrive' });
    const busy = tcps[0].held() === 1 ? 'left' : 'right';
    const idle = busy === 'left' ? 'right' : 'left';
    const during = await load(30, 1, who);
    expect(during.failures).toEqual([]);
    expect(Object.fromEntries(during.answers)).toEqual({ [idle]: 30 });

    // Unsubscribing ends the call for the balancer (the upstream may still be working on it).
    inFlight.unsubscribe();
    const after = await load(60, 1, who);
    expect(after.answers.get('left')).toBeGreaterThan(5);
    expect(after.answers.get('right')).toBeGreaterThan(5);
  });
});
