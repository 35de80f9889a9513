import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type ClientGrpc, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { firstValueFrom } from 'rxjs';
import { Agent, request } from 'undici';
import { ConsulHttpClient, ConsulModule, ConsulService, consulConnectHttpsOptions } from '../lib/index.js';
import { makeCertificates } from '../test/helpers/certificates.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { type Greeter, HELLO_PROTO } from '../test/helpers/consul-microservice.js';
import { eventually } from '../test/helpers/eventually.js';
import { registerTtl } from './context.js';
import { fmt, interleave, load, spread, percent, range } from './stats.js';

const require = createRequire(import.meta.url);

const ROUNDS = 5;
const IN_FLIGHT = 50;
const HTTP_CALLS = 4_000;
const GRPC_CALLS = 4_000;
/** In the reconnecting runs, every RECONNECT_EVERY-th answer closes its connection. */
const RECONNECT_EVERY = 10;
const RECONNECT_CALLS = 2_000;
const WARM_UP_CALLS = 1_000;

const grpcOptions = { package: 'hello', protoPath: HELLO_PROTO };

/** Servers in a child process (bench/servers/connect-servers.ts): their CPU is read apart from the client's. */
async function startServers(agent: ConsulAgent, certificates: string) {
  const script = fileURLToPath(new URL('./servers/connect-servers.js', import.meta.url));
  // CONNECT_SERVERS_CPU_PROF=<dir>: the servers write a CPU profile there when they stop.
  const profile = process.env.CONNECT_SERVERS_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CONNECT_SERVERS_CPU_PROF}`]
    : [];
  const child = spawn(process.execPath, [...profile, script, String(agent.httpPort), HELLO_PROTO, certificates], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`the Connect servers process exited (${code})`))),
  );
  exited.catch(() => undefined); // awaited only while a line is expected
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => {
    const line = await Promise.race([lines.next(), exited]);
    if (line.done) throw new Error('the Connect servers process closed its output');
    return line.value;
  };
  const ports = JSON.parse(await nextLine()) as {
    connectHttp: number;
    tlsHttp: number;
    connectGrpc: number;
    tlsGrpc: number;
  };
  return {
    ports,
    /** The servers' CPU time so far (user + system, µs). */
    async cpu(): Promise<number> {
      child.stdin.write('cpu\n');
      const used = JSON.parse(await nextLine()) as NodeJS.CpuUsage;
      return used.user + used.system;
    },
    /** SIGTERM, then the exit: the Connect servers deregister themselves on the way out. */
    async stop(): Promise<void> {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

/**
 * Every side of the benchmark, each call one Greeter/Hello or one GET /who, over the servers of
 * bench/servers/connect-servers.ts; `close()` ends it all.
 */
export async function startConnectSides(agent: ConsulAgent) {
  const tls = makeCertificates();
  const pem = (name: string) => readFileSync(tls.file(name));
  const [ca, cert, key] = [
    pem('consul-agent-ca.pem'),
    pem('dc1-client-consul-0.pem'),
    pem('dc1-client-consul-0-key.pem'),
  ];
  const closers: Array<() => unknown> = [() => rmSync(tls.dir, { recursive: true, force: true })];
  const close = async () => {
    for (const stop of closers.toReversed()) await stop();
  };
  try {
    const servers = await startServers(agent, tls.dir);
    closers.push(() => servers.stop());
    const { ports } = servers;
    // The floor's instances, for the typed clients with static TLS: plain catalog entries, no Connect.
    await registerTtl(agent, 'bench_tls_http', 'bench-tls-http', ports.tlsHttp);
    await registerTtl(agent, 'bench_tls_grpc', 'bench-tls-grpc', ports.tlsGrpc);
    const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    // Every floor checks who the server is, as Connect checks its SPIFFE id: the static server
    // certificate names 127.0.0.1, which is what the gRPC floors check against (a consul: target names no host).
    const serverIs127 = {
      checkServerIdentity: (_host: string, peer: PeerCertificate) => checkServerIdentity('127.0.0.1', peer),
    };
    const staticGrpcCredentials = () => grpc.credentials.createSsl(ca, key, cert, serverIs127);

    @Injectable()
    class Callers {
      constructor(
        @ConsulService('bench_connect_http') readonly connectHttp: ConsulHttpClient,
        @ConsulService('bench_tls_http') readonly tlsHttp: ConsulHttpClient,
        @ConsulService('bench_connect_grpc') readonly connectGrpc: ClientGrpc,
        @ConsulService('bench_tls_grpc') readonly tlsGrpc: ClientGrpc,
      ) {}
    }
    @Module({
      imports: [
        ConsulModule.forRoot({
          consul: { host: '127.0.0.1', port: agent.httpPort },
          service: { name: 'bench_web', address: '127.0.0.1' },
          registration: { enabled: false },
          connect: { native: true },
        }),
        ConsulModule.forFeature([
          { service: 'bench_connect_http', transport: 'http', options: { connect: true } },
          { service: 'bench_tls_http', transport: 'http', options: { scheme: 'https', tls: { ca, cert, key } } },
          { service: 'bench_connect_grpc', transport: Transport.GRPC, options: { ...grpcOptions, connect: true } },
          {
            service: 'bench_tls_grpc',
            transport: Transport.GRPC,
            options: { ...grpcOptions, credentials: staticGrpcCredentials() },
          },
        ]),
      ],
      providers: [Callers],
    })
    class WebModule {}
    // A Connect-native app must serve HTTPS (the module refuses a plain server); it needs not listen to call.
    const app = await NestFactory.create(WebModule, { logger: false, httpsOptions: consulConnectHttpsOptions() });
    await app.init();
    closers.push(() => app.close());
    const callers = app.get(Callers);

    // The floors over static addresses: undici's request() with an Agent of its own (what
    // ConsulHttpClient uses inside), and Nest's ClientGrpcProxy (what the typed gRPC client wraps).
    const pool = new Agent({ connect: { ca, cert, key } });
    closers.push(() => pool.close());
    const staticUrl = `https://127.0.0.1:${ports.tlsHttp}/who`;
    const nestStatic = ClientProxyFactory.create({
      transport: Transport.GRPC,
      options: {
        ...grpcOptions,
        url: `127.0.0.1:${ports.tlsGrpc}`,
        credentials: staticGrpcCredentials(),
        // Node warns when grpc-js sends an IP address as the TLS server name; the identity check above stays.
        channelOptions: { 'grpc.ssl_target_name_override': 'localhost' },
      },
    }) as unknown as ClientGrpc & { close(): void };
    closers.push(() => nestStatic.close());

    const unary = (client: ClientGrpc) => {
      const greeter = client.getService<Greeter>('Greeter');
      return () => firstValueFrom(greeter.hello({ name: 'x' }));
    };
    /** GET /who, with every RECONNECT_EVERY-th answer closing its connection when `reconnect`. */
    const who = (client: ConsulHttpClient, reconnect = false) => {
      let n = 0;
      return () => client.get(reconnect && ++n % RECONNECT_EVERY === 0 ? '/who?close=1' : '/who');
    };
    const calls = {
      connectHttp: who(callers.connectHttp),
      tlsHttp: who(callers.tlsHttp),
      undiciHttp: async () => JSON.parse(await (await request(staticUrl, { dispatcher: pool })).body.text()) as unknown,
      connectHttpReconnect: who(callers.connectHttp, true),
      tlsHttpReconnect: who(callers.tlsHttp, true),
      connectGrpc: unary(callers.connectGrpc),
      tlsGrpc: unary(callers.tlsGrpc),
      nestGrpc: unary(nestStatic),
    };

    // The Connect servers register themselves; their HTTPS/gRPC checks pass within a second or so.
    for (const service of ['bench_connect_http', 'bench_connect_grpc']) {
      await eventually(async () => (await agent.json(`/v1/health/connect/${service}?passing`)).length > 0, {
        timeoutMs: 30_000,
        what: `${service} registered for Connect and passing`,
      });
    }
    for (const [name, call] of Object.entries(calls)) {
      await eventually(() => call().then(() => true), { timeoutMs: 30_000, what: `a first answer to ${name}` });
    }
    return { calls, serverCpu: () => servers.cpu(), close };
  } catch (error) {
    await close();
    throw error;
  }
}

interface Run {
  perSecond: number;
  /** µs per call, user + system, of the client process and of the servers' process. */
  clientCpu: number;
  serverCpu: number;
  loadAverage: number;
}

/** 10. Connect native against the same servers and clients with static certificates. */
export async function connectBench(agent: ConsulAgent): Promise<string> {
  const { calls, serverCpu, close } = await startConnectSides(agent);
  const runOf = (call: () => Promise<unknown>, count: number) => async (): Promise<Run> => {
    const loadAverage = loadavg()[0];
    const before = await serverCpu();
    const result = await load(call, count, IN_FLIGHT);
    const server = (await serverCpu()) - before;
    return { perSecond: result.perSecond, clientCpu: result.cpuPerCall, serverCpu: server / count, loadAverage };
  };
  try {
    const sides: Array<[string, () => Promise<unknown>, () => Promise<unknown>, number]> = [
      [
        'HTTP, kept alive; B: `ConsulHttpClient` with `scheme: "https"`, `tls: { ca, cert, key }`',
        calls.connectHttp,
        calls.tlsHttp,
        HTTP_CALLS,
      ],
      [
        'HTTP, kept alive; B: undici `request()` with `Agent({ connect: { ca, cert, key } })`, static address',
        calls.connectHttp,
        calls.undiciHttp,
        HTTP_CALLS,
      ],
      [
        `HTTP, every ${RECONNECT_EVERY}th call on a new connection; B: \`ConsulHttpClient\` with static TLS`,
        calls.connectHttpReconnect,
        calls.tlsHttpReconnect,
        RECONNECT_CALLS,
      ],
      [
        'gRPC unary; B: `@ConsulService` gRPC with `credentials: createSsl(ca, key, cert)`',
        calls.connectGrpc,
        calls.tlsGrpc,
        GRPC_CALLS,
      ],
      [
        "gRPC unary; B: Nest's `ClientGrpcProxy` with static TLS, static address",
        calls.connectGrpc,
        calls.nestGrpc,
        GRPC_CALLS,
      ],
    ];
    // Every side a little before the first pair (the first calls of a process cost more); each
    // pair then starts with one warm-up run of each side (interleave).
    for (const [, a, b] of sides) for (const call of [a, b]) await load(call, WARM_UP_CALLS, IN_FLIGHT);
    const pairs: Array<{ what: string; count: number; runs: { a: Run[]; b: Run[] } }> = [];
    for (const [what, a, b, count] of sides) {
      pairs.push({ what, count, runs: await interleave(runOf(a, count), runOf(b, count), ROUNDS) });
    }
    return report(pairs);
  } finally {
    await close();
  }
}

function report(pairs: Array<{ what: string; count: number; runs: { a: Run[]; b: Run[] } }>): string {
  const total = (run: Run) => run.clientCpu + run.serverCpu;
  const cpu = (runs: Run[]) =>
    `${fmt(spread(runs.map(total)).median)} = ${fmt(spread(runs.map((r) => r.clientCpu)).median)} + ${fmt(spread(runs.map((r) => r.serverCpu)).median)}`;
  const perRound = (a: Run[], b: Run[], of: (run: Run) => number) => a.map((run, i) => of(run) / of(b[i]));
  return [
    `### 10. Connect native vs the plain-TLS floor (servers in another process; ${ROUNDS} interleaved rounds, ${IN_FLIGHT} in flight)`,
    '',
    '| A: Connect native; B: the floor | calls/run | A calls/s | B calls/s | A/B calls/s | A CPU µs/call (client + server) | B CPU µs/call (client + server) | A/B CPU per call | load average |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...pairs.map(
      ({ what, count, runs: r }) =>
        `| ${what} | ${fmt(count)} | ${range(r.a.map((x) => x.perSecond))} | ${range(r.b.map((x) => x.perSecond))} ` +
        `| ${percent(perRound(r.a, r.b, (x) => x.perSecond))} | ${cpu(r.a)} | ${cpu(r.b)} | ${percent(perRound(r.a, r.b, total))} ` +
        `| ${range(
          [...r.a, ...r.b].map((x) => x.loadAverage),
          1,
        )} |`,
    ),
    '',
    'A is what a user writes: servers with `ConsulModule.forRoot({ connect: { native: true } })`, Express over',
    '`consulConnectHttpsOptions()` and a Nest gRPC microservice with `grpcServerCredentials()`, registered by the module;',
    'the client a Connect-native Nest app with `forFeature` clients `connect: true`. B runs the same server code with a',
    'static CA (`consul tls`, ECDSA P-256 like the Connect CA): mTLS, the client certificate required and checked to chain',
    'to the CA, no intentions, no SPIFFE id; the clients check the server certificate names 127.0.0.1. The typed',
    'clients cannot be given a static address, so two floors: the same typed clients with static TLS (they discover',
    'a plain catalog entry; the difference from A is Connect alone) and the raw stack over a static address (undici for',
    "HTTP, Nest's gRPC proxy; the difference from A is Connect plus discovery and, for gRPC, the typed client's retry",
    'policy, see section 4). Intentions: the dev agent allows by default (no intention is created), and the servers keep',
    "each caller's decision, so kept-alive calls pay the TLS record layer and the gate's cached lookup (the HTTP gate",
    "reads the caller's certificate once per connection, the gRPC gate on every call through grpc-js's `getAuthContext()`). In the",
    `reconnecting row every ${RECONNECT_EVERY}th answer carries \`connection: close\`: each new connection is a full handshake`,
    'with chain and SPIFFE checks for A (the Connect client turns TLS session resumption off, as Node skips the identity',
    'check on a resumed session), while B resumes sessions as undici does by default.',
    "CPU: user + system of the client's process and of the servers' process per call, medians over the rounds; the",
    'total is the median of the per-round sums, so it need not equal the sum of the two medians. Time spent waiting',
    'for a core is not counted, so CPU is the steadier measure on a shared machine. Each cell:',
    'median (min–max) over the rounds; the order swaps every round; ratios are per round. Load average: the',
    "machine's 1-minute load average as each run started (2 cores); client and servers keep both cores busy, so about",
    '2 is the benchmark itself, and above that other work competed. Goal: A/B calls/s ≥ 90%.',
    'This section alone: `npm run bench -- connect` (it rewrites only this section of bench/results.md).',
    '',
  ].join('\n');
}
