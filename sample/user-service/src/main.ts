import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { ScheduleModule } from '@nestjs/schedule';
import { createServer } from 'node:net';
import { ConsulModule, withGrpcHealth } from 'nestjs-consul-kit';
import { consulFromEnv } from '../../consul-address.js';
import { USER_PROTO } from '../../proto-path.js';
import { LeaderJob } from './leader-job.js';
import { UsersController } from './users.controller.js';

/** The tutorial's get_ip_port(), port half: let the OS pick a free port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

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
