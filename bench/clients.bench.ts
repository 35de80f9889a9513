import { Injectable, Module } from '@nestjs/common';
import { type ClientGrpc, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { firstValueFrom } from 'rxjs';
import { Agent, request } from 'undici';
import { ConsulHttpClient, ConsulService, ConsulModule } from '../lib/index.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { type Greeter, HELLO_PROTO } from '../test/helpers/consul-microservice.js';
import { registerTtl, startApp } from './context.js';
import { fmt, interleave, load, percent, range } from './stats.js';

@Injectable()
class Clients {
  constructor(
    @ConsulService('bench_grpc') readonly grpc: ClientGrpc,
    @ConsulService('bench_grpc_once') readonly grpcOnce: ClientGrpc,
    @ConsulService('bench_http') readonly http: ConsulHttpClient,
  ) {}
}

const grpcOptions = { package: 'hello', protoPath: HELLO_PROTO };

@Module({
  imports: [
    ConsulModule.forFeature([
      { service: 'bench_grpc', transport: Transport.GRPC, options: grpcOptions },
      { service: 'bench_grpc_once', transport: Transport.GRPC, options: { ...grpcOptions, retry: { maxAttempts: 1 } } },
      { service: 'bench_http', transport: 'http' },
    ]),
  ],
  providers: [Clients],
})
class ClientsModule {}

const require = createRequire(import.meta.url);

const ROUNDS = 7;
/** Calls in flight: the gRPC and HTTP pairs run at each. */
const IN_FLIGHT = [10, 50, 200];
/** The pairs that isolate one difference (retries, Nest's layer) run at this one only. */
const DETAIL_IN_FLIGHT = 50;
const GRPC_CALLS = 8_000;
const HTTP_CALLS = 16_000;

/** The upstreams in a child process (bench/servers/upstreams.ts): their CPU is not the client's. */
async function startUpstreams(): Promise<{ grpc: number[]; http: number[]; stop(): void }> {
  const script = fileURLToPath(new URL('./servers/upstreams.js', import.meta.url));
  // UPSTREAMS_CPU_PROF=<dir>: the upstreams write a CPU profile there when they stop (node rejects --cpu-prof in NODE_OPTIONS).
  const profile = process.env.UPSTREAMS_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.UPSTREAMS_CPU_PROF}`]
    : [];
  const child = spawn(process.execPath, [...profile, script, HELLO_PROTO], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`the upstreams process exited (${code}) before it listened`))),
  );
  const first = new Promise<string>((resolve) => lines.once('line', resolve));
  const ports = JSON.parse(await Promise.race([first, exited])) as { grpc: number[]; http: number[] };
  lines.close();
  return {
    ...ports,
    stop: () => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    },
  };
}

/** The calls of every side, over upstreams in a child process registered in `agent`; `close()` ends it all. */
export async function startClientSides(agent: ConsulAgent) {
  const upstreams = await startUpstreams();
  const closers: Array<() => unknown> = [upstreams.stop];
  const close = async () => {
    for (const stop of closers.toReversed()) await stop();
  };
  try {
    for (const [i, port] of upstreams.grpc.entries()) {
      await registerTtl(agent, 'bench_grpc', `grpc-${i}`, port);
      await registerTtl(agent, 'bench_grpc_once', `grpc-once-${i}`, port);
    }
    for (const [i, port] of upstreams.http.entries()) await registerTtl(agent, 'bench_http', `http-${i}`, port);
    const app = await startApp(agent.httpPort, {}, [ClientsModule]);
    closers.push(() => app.close());
    const clients = app.get(Clients);

    // The floor: the same stacks, the same two instances, addresses given statically.
    const staticTarget = `ipv4:${upstreams.grpc.map((port) => `127.0.0.1:${port}`).join(',')}`;
    const roundRobin = { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) };
    const nestStatic = ClientProxyFactory.create({
      transport: Transport.GRPC,
      options: { ...grpcOptions, url: staticTarget, channelOptions: roundRobin },
    }) as unknown as ClientGrpc & { close(): void };
    closers.push(() => nestStatic.close());
    const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    const loader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
    const { hello } = grpc.loadPackageDefinition(loader.loadSync(HELLO_PROTO)) as unknown as {
      hello: { Greeter: typeof import('@grpc/grpc-js').Client };
    };
    const raw = new hello.Greeter(staticTarget, grpc.credentials.createInsecure(), roundRobin) as unknown as {
      Hello(request: { name: string }, done: (error: unknown, reply: unknown) => void): void;
      close(): void;
    };
    closers.push(() => raw.close());

    const unary = (greeter: Greeter) => () => firstValueFrom(greeter.hello({ name: 'x' }));
    const consulCall = unary(clients.grpc.getService<Greeter>('Greeter'));
    const consulOnceCall = unary(clients.grpcOnce.getService<Greeter>('Greeter'));
    const nestCall = unary(nestStatic.getService<Greeter>('Greeter'));
    const rawCall = () =>
      new Promise((resolve, reject) => raw.Hello({ name: 'x' }, (e, r) => (e ? reject(e) : resolve(r))));

    // HTTP floor: undici's request() over the same two instances, alternating, with the same pool
    // settings as ConsulHttpClient (its own Agent, no connection limit) and the body read the same way.
    const pool = new Agent();
    closers.push(() => pool.close());
    const urls = upstreams.http.map((port) => `http://127.0.0.1:${port}/who`);
    let turn = 0;
    const undiciCall = async () => {
      const response = await request(urls[turn++ & 1], { dispatcher: pool });
      return JSON.parse(await response.body.text());
    };
    const httpCall = () => clients.http.get('/who');

    return {
      calls: { consulCall, consulOnceCall, nestCall, rawCall, httpCall, undiciCall },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

type Run = Awaited<ReturnType<typeof load>> & { loadAverage: number };

/** One run of `calls` calls, `inFlight` at a time, with the 1-minute load average as it starts. */
const runOf = (call: () => Promise<unknown>, calls: number, inFlight: number) => async (): Promise<Run> => {
  const loadAverage = loadavg()[0];
  return { ...(await load(call, calls, inFlight)), loadAverage };
};

/** 4. Each typed client against the same client stack over the same two instances, given statically. */
export async function clientsBench(agent: ConsulAgent): Promise<string> {
  const { calls, close } = await startClientSides(agent);
  const { consulCall, consulOnceCall, nestCall, rawCall, httpCall, undiciCall } = calls;
  const grpcOurs = '`@ConsulService` gRPC, default retry policy';
  const grpcOnce = '`@ConsulService` gRPC, `retry: { maxAttempts: 1 }`';
  const nest = "Nest's `ClientGrpcProxy`, static target";
  try {
    const pairs: Array<{ a: string; b: string; inFlight: number; runs: { a: Run[]; b: Run[] } }> = [];
    const pair = async (a: string, b: string, inFlight: number, runA: () => Promise<Run>, runB: () => Promise<Run>) =>
      pairs.push({ a, b, inFlight, runs: await interleave(runA, runB, ROUNDS) });
    // Every side first, at every concurrency: the client's CPU per call kept falling for about the first
    // 100,000 gRPC calls of a process (by a third, in a run where the first pairs had only their own warm-up).
    for (const inFlight of IN_FLIGHT) {
      for (const call of [consulCall, consulOnceCall, nestCall, rawCall]) await load(call, GRPC_CALLS, inFlight);
      for (const call of [httpCall, undiciCall]) await load(call, HTTP_CALLS, inFlight);
    }
    for (const inFlight of IN_FLIGHT) {
      const grpc = (call: () => Promise<unknown>) => runOf(call, GRPC_CALLS, inFlight);
      await pair(grpcOurs, nest, inFlight, grpc(consulCall), grpc(nestCall));
    }
    for (const inFlight of IN_FLIGHT) {
      const http = (call: () => Promise<unknown>) => runOf(call, HTTP_CALLS, inFlight);
      await pair(
        '`ConsulHttpClient.get()`',
        'raw undici `request()`, alternating',
        inFlight,
        http(httpCall),
        http(undiciCall),
      );
    }
    const grpc = (call: () => Promise<unknown>) => runOf(call, GRPC_CALLS, DETAIL_IN_FLIGHT);
    await pair(grpcOnce, nest, DETAIL_IN_FLIGHT, grpc(consulOnceCall), grpc(nestCall));
    await pair(
      grpcOurs,
      'raw `@grpc/grpc-js` client, static target',
      DETAIL_IN_FLIGHT,
      grpc(consulCall),
      grpc(rawCall),
    );
    await pair(grpcOurs, grpcOnce, DETAIL_IN_FLIGHT, grpc(consulCall), grpc(consulOnceCall));

    const rates = (runs: Run[]) => runs.map((r) => r.perSecond);
    const cpu = (runs: Run[]) => runs.map((r) => r.cpuPerCall);
    const perRound = (a: Run[], b: Run[], of: (run: Run) => number) => a.map((run, i) => of(run) / of(b[i]));
    return [
      `### 4. Typed clients vs the same stack with static addresses (2 instances in another process; ${ROUNDS} interleaved rounds)`,
      '',
      '| A | B | in flight | A calls/s | B calls/s | A/B calls/s | A CPU µs/call | B CPU µs/call | A/B CPU per call | load average |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...pairs.map(
        ({ a, b, inFlight, runs: r }) =>
          `| ${a} | ${b} | ${inFlight} | ${range(rates(r.a))} | ${range(rates(r.b))} | ${percent(perRound(r.a, r.b, (x) => x.perSecond))} ` +
          `| ${range(cpu(r.a), 1)} | ${range(cpu(r.b), 1)} | ${percent(perRound(r.a, r.b, (x) => x.cpuPerCall))} ` +
          `| ${range(
            [...r.a, ...r.b].map((x) => x.loadAverage),
            1,
          )} |`,
      ),
      '',
      `gRPC: unary, ${fmt(GRPC_CALLS)} calls per run; the floor's target is \`ipv4:127.0.0.1:a,127.0.0.1:b\` with \`round_robin\`.`,
      `HTTP: small JSON, ${fmt(HTTP_CALLS)} requests per run, body read as text and parsed. "In flight": calls kept outstanding`,
      `at once. The last three rows isolate one difference each (retries, Nest's layer), at ${DETAIL_IN_FLIGHT} in flight only.`,
      'Each cell: median (min–max) over the rounds. Every side runs once at each concurrency before the first pair, and',
      'each pair starts with one warm-up run of each side; the order swaps every round (A B, B A…); ratios are per round.',
      "CPU is the client process's own (user + system) per call: it does not count",
      'time spent waiting for a core, so it is the steadier measure when other work shares the machine. Load average:',
      "the machine's 1-minute load average as each run of the pair started (2 cores): above ~1, other work competed.",
      'Target: ≥ 97% of the floor. The difference from the floor is what discovery costs; the last row is the price of the retry policy alone.',
      'This section alone: `npm run bench -- clients` (it rewrites only this section of bench/results.md).',
      '',
    ].join('\n');
  } finally {
    await close();
  }
}
