import { Injectable, Module } from '@nestjs/common';
import { type ClientGrpc, Transport } from '@nestjs/microservices';
import { createRequire } from 'node:module';
import { firstValueFrom } from 'rxjs';
import { ConsulHttpClient, ConsulService, ConsulModule } from '../lib/index.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { type Greeter, HELLO_PROTO } from '../test/helpers/consul-microservice.js';
import { startGreeter, whoAmI } from '../test/helpers/upstreams.js';
import { registerTtl, startApp } from './context.js';
import { fmt, load, table } from './stats.js';

@Injectable()
class Clients {
  constructor(
    @ConsulService('bench_grpc') readonly grpc: ClientGrpc,
    @ConsulService('bench_http') readonly http: ConsulHttpClient,
  ) {}
}

@Module({
  imports: [
    ConsulModule.forFeature([
      { service: 'bench_grpc', transport: Transport.GRPC, options: { package: 'hello', protoPath: HELLO_PROTO } },
      { service: 'bench_http', transport: 'http' },
    ]),
  ],
  providers: [Clients],
})
class ClientsModule {}

const require = createRequire(import.meta.url);

/** 4 and 5. Calls through @ConsulService clients vs the plain alternatives, in the same run. */
export async function clientsBench(agent: ConsulAgent): Promise<string> {
  const greeters = await Promise.all([startGreeter('a'), startGreeter('b')]);
  const webs = await Promise.all(
    ['one', 'two'].map(async (name) => {
      @Module({ controllers: [whoAmI(name)] })
      class Web {}
      const { NestFactory } = await import('@nestjs/core');
      const app = await NestFactory.create(Web, { logger: false });
      await app.listen(0, '127.0.0.1');
      return { app, port: (app.getHttpServer().address() as { port: number }).port };
    }),
  );
  for (const [i, g] of greeters.entries()) await registerTtl(agent, 'bench_grpc', `grpc-${i}`, g.port);
  for (const [i, w] of webs.entries()) await registerTtl(agent, 'bench_http', `http-${i}`, w.port);
  const app = await startApp(agent.httpPort, {}, [ClientsModule]);
  const clients = app.get(Clients);
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const loader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  const GreeterClient = (grpc.loadPackageDefinition(loader.loadSync(HELLO_PROTO)) as any).hello.Greeter;
  const rawHello = (client: any) =>
    new Promise((resolve, reject) =>
      client.Hello({ name: 'x' }, (e: unknown, r: unknown) => (e ? reject(e) : resolve(r))),
    );
  try {
    const viaConsul = clients.grpc.getService<Greeter>('Greeter');
    const consulCall = () => firstValueFrom(viaConsul.hello({ name: 'x' }));
    await load(consulCall, 500, 10); // warm-up: connections, JIT
    const raw = new GreeterClient(`127.0.0.1:${greeters[0].port}`, grpc.credentials.createInsecure());
    await load(() => rawHello(raw), 500, 10);
    const grpcConsul = await load(consulCall, 10_000, 50);
    const grpcRaw = await load(() => rawHello(raw), 10_000, 50);
    const perCall = (options: Record<string, unknown>) => async () => {
      const client = new GreeterClient(`127.0.0.1:${greeters[0].port}`, grpc.credentials.createInsecure(), options);
      try {
        return await rawHello(client);
      } finally {
        client.close();
      }
    };
    // grpc-js shares connections between clients through a global subchannel pool: a "new client per call"
    // then still reuses one connection. A local pool gives each client its own connection, as other stacks do.
    const grpcPerCall = await load(perCall({}), 1_000, 50);
    const grpcPerCallFresh = await load(perCall({ 'grpc.use_local_subchannel_pool': 1 }), 1_000, 50);
    raw.close();
    // Nest's own ClientGrpcProxy to a fixed address: the same Observable wrapping as ours, without Consul.
    const { ClientProxyFactory } = await import('@nestjs/microservices');
    const nestFixed = ClientProxyFactory.create({
      transport: Transport.GRPC,
      options: { package: 'hello', protoPath: HELLO_PROTO, url: `127.0.0.1:${greeters[0].port}` },
    }) as unknown as ClientGrpc & { close(): void };
    const nestGreeter = nestFixed.getService<Greeter>('Greeter');
    const nestCall = () => firstValueFrom(nestGreeter.hello({ name: 'x' }));
    await load(nestCall, 500, 10);
    const grpcNest = await load(nestCall, 10_000, 50);
    nestFixed.close();

    const httpCall = () => clients.http.get('/who');
    const plainUrl = `http://127.0.0.1:${webs[0].port}/who`;
    const plainCall = async () => (await fetch(plainUrl)).json();
    await load(httpCall, 500, 10);
    await load(plainCall, 500, 10);
    const httpConsul = await load(httpCall, 5_000, 20);
    const httpPlain = await load(plainCall, 5_000, 20);

    const row = (name: string, r: { perSecond: number; p99: number }, base: { perSecond: number }) => [
      name,
      fmt(r.perSecond),
      fmt(r.p99, 2),
      `${fmt((100 * r.perSecond) / base.perSecond)}%`,
    ];
    return [
      table(
        '4. gRPC, unary, small messages (2 instances; 10,000 calls, 50 concurrent; client per call: 1,000)',
        ['client', 'calls/s', 'p99 ms', 'vs raw client'],
        [
          row('`@ConsulService` ClientGrpc (balanced over 2)', grpcConsul, grpcRaw),
          row("Nest's ClientGrpcProxy, fixed address (1 instance)", grpcNest, grpcRaw),
          row('raw @grpc/grpc-js client, fixed address (1 instance)', grpcRaw, grpcRaw),
          row('new raw client per call (global subchannel pool: connection reused)', grpcPerCall, grpcRaw),
          row('new raw client per call, own connection', grpcPerCallFresh, grpcRaw),
        ],
        [
          `Targets: ≥ 95% of the raw client, ≥ 5× the client per call. Measured: ${fmt((100 * grpcConsul.perSecond) / grpcNest.perSecond)}% of Nest's own`,
          `fixed-address client (the cost of Consul balancing), ${fmt(grpcConsul.perSecond / grpcPerCallFresh.perSecond, 1)}× a client with its own connection per call,`,
          `${fmt(grpcConsul.perSecond / grpcPerCall.perSecond, 1)}× a client per call that reuses the pooled connection. Servers and client share this machine's 2 cores.`,
        ],
      ),
      table(
        '5. HTTP, small JSON (2 instances; 5,000 requests, 20 concurrent)',
        ['client', 'requests/s', 'p99 ms', 'vs plain fetch'],
        [
          row('`ConsulHttpClient.get()` (instance per request)', httpConsul, httpPlain),
          row('plain `fetch` to a fixed address', httpPlain, httpPlain),
        ],
        ['Target: ≥ 90% of plain fetch.'],
      ),
    ].join('\n');
  } finally {
    await app.close();
    await Promise.all([...greeters.map((g) => g.app.close()), ...webs.map((w) => w.app.close())]);
  }
}
