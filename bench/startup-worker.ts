// One start-up of the start-up benchmark (startup.bench.ts), in a fresh process: a small HTTP app,
// with ConsulModule (registration, 4 config contexts, 3 typed clients), without it, or without it
// but with the same three clients on static addresses (Nest's ClientsModule for gRPC and TCP, an
// undici Agent for HTTP: what the app would build by hand). Prints one JSON line: ms from
// NestFactory.create() to the first request served, and to registered.
// argv: <with|without|static> <agent port> <service name>
import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { get } from 'node:http';
import { type ClientGrpc, type ClientProxy, ClientsModule, Transport } from '@nestjs/microservices';
import { Agent } from 'undici';
import { ConsulHttpClient, ConsulModule, ConsulRegistrar, ConsulService } from '../lib/index.js';
import { HELLO_PROTO } from '../test/helpers/consul-microservice.js';

const [variant, port, name] = process.argv.slice(2);
const withConsul = variant === 'with';
const withStaticClients = variant === 'static';
// From before the modules are defined: ClientsModule.register() builds its clients right there, at
// definition, where ConsulModule only keeps its options and builds at NestFactory.create().
const started = performance.now();

@Controller()
class PingController {
  @Get('ping')
  ping(): string {
    return 'pong';
  }
}

@Injectable()
class Callers {
  constructor(
    @ConsulService('startup_grpc') readonly grpc: ClientGrpc,
    @ConsulService('startup_http') readonly http: ConsulHttpClient,
    @ConsulService('startup_tcp') readonly tcp: ClientProxy,
  ) {}
}

const consulImports = (): DynamicModule[] => [
  ConsulModule.forRoot({
    consul: { host: '127.0.0.1', port: Number(port) },
    service: { name, address: '127.0.0.1' },
    // 4 contexts: <name>,production/  <name>/  application,production/  application/
    config: { profiles: ['production'] },
    registration: { drainDelay: '0s' },
  }),
  ConsulModule.forFeature([
    { service: 'startup_grpc', transport: Transport.GRPC, options: { package: 'hello', protoPath: HELLO_PROTO } },
    { service: 'startup_http', transport: 'http' },
    { service: 'startup_tcp', transport: Transport.TCP },
  ]),
];

@Injectable()
class StaticCallers {
  readonly http = new Agent();
  constructor(
    @Inject('startup_grpc') readonly grpc: ClientGrpc,
    @Inject('startup_tcp') readonly tcp: ClientProxy,
  ) {}
}

const staticImports = () => [
  ClientsModule.register([
    {
      name: 'startup_grpc',
      transport: Transport.GRPC,
      options: { package: 'hello', protoPath: HELLO_PROTO, url: '127.0.0.1:1' },
    },
    { name: 'startup_tcp', transport: Transport.TCP, options: { host: '127.0.0.1', port: 1 } },
  ]),
];

@Module({
  imports: withConsul ? consulImports() : withStaticClients ? staticImports() : [],
  controllers: [PingController],
  providers: withConsul ? [Callers] : withStaticClients ? [StaticCallers] : [],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
await app.listen(0, '127.0.0.1');
const { port: appPort } = app.getHttpServer().address() as { port: number };
// node:http, not fetch: fetch is undici, whose first request compiles its HTTP parser (WebAssembly).
// The app without the module would pay that inside the window for the probe alone, and the app with
// it would not (its Consul calls did), which hid ~8 ms of the module's cost.
const answer = await new Promise<string>((resolve, reject) => {
  get(`http://127.0.0.1:${appPort}/ping`, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body += chunk));
    res.on('end', () => resolve(body));
  }).on('error', reject);
});
if (answer !== 'pong') throw new Error(`unexpected answer ${answer}`);
const served = performance.now() - started;
if (withConsul) await app.get(ConsulRegistrar).whenRegistered();
const registered = performance.now() - started;
process.stdout.write(`${JSON.stringify({ served, registered })}\n`);
if (withStaticClients) await app.get(StaticCallers).http.close();
await app.close();
process.exit(0);
