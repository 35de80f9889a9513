import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AsyncMicroserviceOptions, Transport } from '@nestjs/microservices';
import { ScheduleModule } from '@nestjs/schedule';
import { ConsulConnect, ConsulModule, withGrpcHealth } from 'nestjs-consul-kit';
import { SAMPLE_CONNECT } from '../../connect-mode.js';
import { consulFromEnv } from '../../consul-address.js';
import { freePort } from '../../free-port.js';
import { USER_PROTO } from '../../proto-path.js';
import { LeaderJob } from './leader-job.js';
import { UsersController } from './users.controller.js';

const port = Number(process.env.PORT) || (await freePort());

@Module({
  imports: [
    ConsulModule.forRoot({
      consul: consulFromEnv(),
      // The address is detected (this demo stays on loopback); the port is the one gRPC listens on.
      service: { name: 'user_service', port, tags: ['user'], check: { type: 'grpc', interval: '2s' } },
      address: { preferredNetworks: ['127.0.0.0/8'] },
      registration: { drainDelay: '1s' },
      // SAMPLE_CONNECT=1: registered for Connect, with a leaf certificate the agent issues and renews.
      connect: { native: SAMPLE_CONNECT },
    }),
    ScheduleModule.forRoot(),
  ],
  controllers: [UsersController],
  providers: [LeaderJob],
})
class UserServiceModule {}

// The async form, so that the gRPC server's credentials can come from ConsulConnect.
const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(UserServiceModule, {
  inject: [ConsulConnect],
  useFactory: (connect: ConsulConnect) => ({
    transport: Transport.GRPC,
    options: {
      // withGrpcHealth() serves grpc.health.v1.Health next to user.UserService, for Consul's gRPC check.
      ...withGrpcHealth({ package: 'user', protoPath: USER_PROTO, url: `127.0.0.1:${port}` }),
      // Connect: mTLS with the service's leaf; each call admitted by the intentions (PERMISSION_DENIED if not).
      ...(SAMPLE_CONNECT ? { credentials: connect.grpcServerCredentials() } : {}),
    },
  }),
});
app.enableShutdownHooks();
await app.listen();
