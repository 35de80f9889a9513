import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { ConsulConnect, consulConnectHttpsOptions, withGrpcHealth } from 'nestjs-consul-kit';
import { SAMPLE_CONNECT } from '../../connect-mode.js';
import { GREETING_PROTO } from '../../proto-path.js';
import { AppModule } from './app.module.js';
import { GRPC_PORT } from './grpc-port.js';

// Connect: HTTPS that asks callers for their certificate; the agent's leaf is served once it is in hand.
const app = await NestFactory.create(AppModule, SAMPLE_CONNECT ? { httpsOptions: consulConnectHttpsOptions() } : {});
// A hybrid app: the greeting over gRPC too, registered in Consul as user_api_grpc (see app.module.ts).
app.connectMicroservice<MicroserviceOptions>({
  transport: Transport.GRPC,
  options: {
    ...withGrpcHealth({ package: 'greeting', protoPath: GREETING_PROTO, url: `127.0.0.1:${GRPC_PORT}` }),
    // Connect native is per app: user_api_grpc is Connect native too, with its own leaf.
    ...(SAMPLE_CONNECT ? { credentials: app.get(ConsulConnect).grpcServerCredentials('user_api_grpc') } : {}),
  },
});
// SIGINT/SIGTERM run Nest's shutdown hooks: maintenance, drain, deregister (both services).
app.enableShutdownHooks();
await app.startAllMicroservices();
await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
