// The servers of the Connect benchmark, in a process of their own so that the client's CPU time is
// all the client's, and theirs can be read apart (`cpu` on stdin answers this process's
// process.cpuUsage() as one JSON line). The same Nest code twice, Express over HTTPS and a Nest gRPC
// microservice, once as a user writes it for Connect native (`connect: { native: true }`,
// consulConnectHttpsOptions(), grpcServerCredentials(), registered by the module) and once with
// static certificates (mTLS: a client certificate is required and must chain to the static CA).
// Prints one JSON line with the ports, then serves until SIGTERM or until stdin closes (the parent
// died): it never outlives the benchmark.
//   node connect-servers.js <consul HTTP port> <hello.proto> <certificates dir>
import 'reflect-metadata';
import { Controller, Get, type INestApplication, type INestMicroservice, Module, Query, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AsyncMicroserviceOptions, GrpcMethod, type MicroserviceOptions, Transport } from '@nestjs/microservices';
import type { ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  ConsulConnect,
  consulConnectHttpsOptions,
  ConsulModule,
  type ConsulModuleOptions,
  withGrpcHealth,
} from '../../lib/index.js';
import { freePort } from '../../test/helpers/free-ports.js';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');

const [consulPort, protoPath, certificates] = process.argv.slice(2);
const pem = (name: string) => readFileSync(join(certificates, name));

@Controller()
class WhoController {
  @Get('who')
  who(@Res({ passthrough: true }) res: ServerResponse, @Query('close') close?: string) {
    // `?close=1` ends the connection after the answer: the client's next call opens a new one.
    if (close) res.setHeader('connection', 'close');
    return { name: 'who' };
  }
}

@Controller()
class GreeterController {
  @GrpcMethod('Greeter', 'Hello')
  hello({ name }: { name: string }) {
    return { message: `hello ${name}` };
  }
}

/** Module options for one server: Connect native and registered, or neither (the floor). */
function consul(name: string, connect: boolean, port?: number, grpcCheck = false): ConsulModuleOptions {
  return {
    consul: { host: '127.0.0.1', port: Number(consulPort) },
    service: { name, address: '127.0.0.1', port, check: { interval: '1s', ...(grpcCheck && { type: 'grpc' }) } },
    // The Connect servers register as a user's would (Connect callers discover them through
    // /v1/health/connect); the floor's instances are registered by the benchmark with a TTL check.
    registration: { enabled: connect },
    ...(connect && { connect: { native: true } }),
  };
}

async function startWeb(connect: boolean): Promise<{ app: INestApplication; port: number }> {
  @Module({
    imports: [ConsulModule.forRoot(consul(`bench_${connect ? 'connect' : 'tls'}_http`, connect))],
    controllers: [WhoController],
  })
  class WebModule {}
  const httpsOptions = connect
    ? consulConnectHttpsOptions()
    : {
        key: pem('dc1-server-consul-0-key.pem'),
        cert: pem('dc1-server-consul-0.pem'),
        ca: pem('consul-agent-ca.pem'),
        requestCert: true,
        rejectUnauthorized: true,
      };
  const app = await NestFactory.create(WebModule, { logger: false, httpsOptions });
  await app.listen(0, '127.0.0.1');
  return { app, port: (app.getHttpServer().address() as { port: number }).port };
}

async function startGreeter(connect: boolean): Promise<{ app: INestMicroservice; port: number }> {
  const port = await freePort();
  @Module({
    imports: [ConsulModule.forRoot(consul(`bench_${connect ? 'connect' : 'tls'}_grpc`, connect, port, true))],
    controllers: [GreeterController],
  })
  class GreeterModule {}
  const options = (credentials: unknown) => ({
    transport: Transport.GRPC as const,
    options: { ...withGrpcHealth({ package: 'hello', protoPath, url: `127.0.0.1:${port}` }), credentials },
  });
  const app = connect
    ? await NestFactory.createMicroservice<AsyncMicroserviceOptions>(GreeterModule, {
        inject: [ConsulConnect],
        useFactory: (consulConnect: ConsulConnect) => options(consulConnect.grpcServerCredentials()),
        logger: false,
      } as AsyncMicroserviceOptions)
    : await NestFactory.createMicroservice<MicroserviceOptions>(GreeterModule, {
        ...options(
          grpc.ServerCredentials.createSsl(
            pem('consul-agent-ca.pem'),
            [{ private_key: pem('dc1-server-consul-0-key.pem'), cert_chain: pem('dc1-server-consul-0.pem') }],
            true,
          ),
        ),
        logger: false,
      } as MicroserviceOptions);
  await app.listen();
  return { app, port };
}

const [connectHttp, tlsHttp, connectGrpc, tlsGrpc] = await Promise.all([
  startWeb(true),
  startWeb(false),
  startGreeter(true),
  startGreeter(false),
]);
const apps = [connectHttp, tlsHttp, connectGrpc, tlsGrpc].map((started) => started.app);
process.stdout.write(
  `${JSON.stringify({
    connectHttp: connectHttp.port,
    tlsHttp: tlsHttp.port,
    connectGrpc: connectGrpc.port,
    tlsGrpc: tlsGrpc.port,
  })}\n`,
);

async function stop(): Promise<void> {
  // Closed, not killed: the Connect servers deregister themselves from the shared agent.
  await Promise.allSettled(apps.map((app) => app.close()));
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'cpu') process.stdout.write(`${JSON.stringify(process.cpuUsage())}\n`);
  })
  .on('close', () => void stop());
