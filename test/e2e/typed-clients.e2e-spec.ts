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
