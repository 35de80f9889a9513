// A new user's first hour, from outside: run by check-package.sh inside a fresh CommonJS app that installed
// the packed tarball with only what an HTTP app needs (no @nestjs/microservices, no @grpc/grpc-js). Against a
// real Consul dev agent it started itself, the app names its agent `localhost`, registers, is passing within
// a second of listen() with the default 10 s check interval, resolves itself through DNS, says what a
// transport client needs, and deregisters on close.
//
//   node consumer-smoke.cjs <consul binary>
'use strict';
require('reflect-metadata');
const { spawn } = require('node:child_process');
const { createServer } = require('node:net');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { ConsulModule, ConsulDiscoveryService, ConsulOptionsError } = require('nestjs-consul-kit');

const consulBin = process.argv[2];
const say = (line) => console.log(`consumer-smoke: ${line}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function absent(name) {
  try {
    require.resolve(name);
  } catch {
    return;
  }
  throw new Error(`${name} is installed: this app must do without it`);
}

/** Nest's logger, collecting what the app says. */
class Lines {
  constructor() {
    this.lines = [];
  }
  log(message, context) {
    this.lines.push(`LOG [${context}] ${message}`);
  }
  error(message, context) {
    this.lines.push(`ERROR [${context}] ${message}`);
  }
  warn(message, context) {
    this.lines.push(`WARN [${context}] ${message}`);
  }
  debug() {}
  verbose() {}
}

async function main() {
  absent('@nestjs/microservices');
  absent('@grpc/grpc-js');
  say('the app has neither @nestjs/microservices nor @grpc/grpc-js');

  const [http, dns, serfLan, serfWan, server, grpc] = await Promise.all(Array.from({ length: 6 }, freePort));
  const agent = spawn(
    consulBin,
    [
      'agent',
      '-dev',
      `-node=consumer-smoke-${process.pid}`,
      '-bind=127.0.0.1',
      '-client=127.0.0.1',
      `-http-port=${http}`,
      `-dns-port=${dns}`,
      `-serf-lan-port=${serfLan}`,
      `-serf-wan-port=${serfWan}`,
      `-server-port=${server}`,
      `-grpc-port=${grpc}`,
      '-log-level=warn',
    ],
    { stdio: 'ignore' },
  );
  const api = (path, init) => fetch(`http://127.0.0.1:${http}${path}`, init);
  let app;
  try {
    await until(
      'the Consul agent to elect itself',
      20_000,
      async () => (await (await api('/v1/status/leader')).json()) !== '',
    );

    const logger = new Lines();
    const options = { consul: { host: 'localhost', port: http }, discovery: { dns: { port: dns } } };
    class AppModule {}
    Module({ imports: [ConsulModule.forRoot({ ...options, service: { name: 'cjs_smoke' } })] })(AppModule);
    app = await NestFactory.create(AppModule, { logger, abortOnError: false });
    const listenedAt = Date.now();
    await app.listen(0, '127.0.0.1');
    await until('cjs_smoke passing in Consul', 5_000, async () => {
      const checks = await (await api('/v1/health/checks/cjs_smoke')).json();
      return checks.length === 1 && checks[0].Status === 'passing';
    });
    const passingMs = Date.now() - listenedAt;
    say(`consul.host "localhost": registered, passing ${passingMs} ms after listen() (check interval 10s)`);
    if (passingMs > 1_000) throw new Error(`passing only ${passingMs} ms after listen(); the goal is within 1 s`);
    if (logger.lines.some((line) => line.includes('ConsulGrpcHealthController'))) {
      throw new Error('an HTTP-only app mounted the gRPC health controller');
    }
    const registering = logger.lines.filter((line) => line.includes('] Registering'));
    if (registering.length !== 1)
      throw new Error(`expected one "Registering" line, got ${JSON.stringify(registering)}`);
    say(registering[0]);

    const viaDns = await until('cjs_smoke through DNS at localhost', 5_000, async () => {
      const found = await app.get(ConsulDiscoveryService).resolveDns('cjs_smoke');
      return found.length === 1 && found;
    });
    say(`resolveDns() through localhost:${dns} found ${viaDns[0].address}:${viaDns[0].port}`);

    class TransportModule {}
    Module({
      imports: [
        ConsulModule.forRoot(options),
        ConsulModule.forFeature([{ service: 'orders', transport: 0 /* Transport.TCP */ }]),
      ],
    })(TransportModule);
    const failure = await NestFactory.create(TransportModule, { logger: false, abortOnError: false }).then(
      (other) => other.close().then(() => undefined),
      (error) => error,
    );
    if (!(failure instanceof ConsulOptionsError) || !failure.message.includes('npm install @nestjs/microservices')) {
      throw new Error(`a TCP client without @nestjs/microservices should say what to install, got: ${failure}`);
    }
    say(`a TCP client without @nestjs/microservices: ${failure.problems[0].problem}; ${failure.problems[0].fix}`);

    await app.close();
    app = undefined;
    const left = await (await api('/v1/health/checks/cjs_smoke')).json();
    if (left.length !== 0) throw new Error('cjs_smoke is still registered after app.close()');
    say('deregistered on close()');
  } finally {
    await app?.close().catch(() => undefined);
    agent.kill('SIGTERM');
  }
}

// No process.exit(): the app, its client and the agent must all end by themselves (check-package.sh
// bounds the run, so a timer or socket left behind fails the check instead of hiding).
main().catch((error) => {
  console.error(`consumer-smoke: FAILED: ${error.stack ?? error}`);
  process.exitCode = 1;
});
