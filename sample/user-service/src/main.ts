import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { ScheduleModule } from '@nestjs/schedule';
import { ConsulModule, withGrpcHealth } from 'nestjs-consul-kit';
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
    }),
    ScheduleModule.forRoot(),
  ],
  controllers: [UsersController],
  providers: [LeaderJob],
})
class UserServiceModule {}

const app = await NestFactory.createMicroservice<MicroserviceOptions>(UserServiceModule, {
  transport: Transport.GRPC,
  // withGrpcHealth() serves grpc.health.v1.Health next to user.UserService, for Consul's gRPC check.
  options: withGrpcHealth({ package: 'user', protoPath: USER_PROTO, url: `127.0.0.1:${port}` }),
});
app.enableShutdownHooks();
await app.listen();
