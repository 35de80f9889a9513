import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { withGrpcHealth } from 'nestjs-consul-kit';
import { GREETING_PROTO } from '../../proto-path.js';
import { AppModule } from './app.module.js';
import { GRPC_PORT } from './grpc-port.js';

const app = await NestFactory.create(AppModule);
// A hybrid app: the greeting over gRPC too, registered in Consul as user_api_grpc (see app.module.ts).
app.connectMicroservice<MicroserviceOptions>({
  transport: Transport.GRPC,
  options: withGrpcHealth({ package: 'greeting', protoPath: GREETING_PROTO, url: `127.0.0.1:${GRPC_PORT}` }),
});
// SIGINT/SIGTERM run Nest's shutdown hooks: maintenance, drain, deregister (both services).
app.enableShutdownHooks();
await app.startAllMicroservices();
await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
