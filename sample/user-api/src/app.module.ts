import { Module } from '@nestjs/common';
import { Transport } from '@nestjs/microservices';
import { MemoryHealthIndicator, TerminusModule } from '@nestjs/terminus';
import { ConsulModule } from 'nestjs-consul-kit';
import { SAMPLE_CONNECT } from '../../connect-mode.js';
import { consulFromEnv } from '../../consul-address.js';
import { USER_PROTO } from '../../proto-path.js';
import { ConsulHealthContributor } from './consul-health.contributor.js';
import { GreetingController } from './greeting.controller.js';
import { GRPC_PORT } from './grpc-port.js';
import { UsersController } from './users.controller.js';

@Module({
  imports: [
    ConsulModule.forRootAsync({
      imports: [TerminusModule],
      inject: [MemoryHealthIndicator],
      useFactory: (memory: MemoryHealthIndicator) => ({
        consul: consulFromEnv(),
        // Address and port are not configured: they are read from the listening server.
        service: { name: 'user_api', tags: ['user'], check: { type: 'http', path: '/health', interval: '2s' } },
        // The gRPC server main.ts connects: a service of its own, with a gRPC health check.
        microservices: [
          { name: 'user_api_grpc', port: GRPC_PORT, address: '127.0.0.1', check: { type: 'grpc', interval: '2s' } },
        ],
        registration: { drainDelay: '500ms' },
        health: { indicators: [() => memory.checkHeap('memory_heap', 512 * 1024 * 1024)] },
        config: { profiles: [] }, // config/user_api/ and config/application/ in Consul KV
        // SAMPLE_CONNECT=1: both of its services (user_api, user_api_grpc) serve Connect native mTLS, and
        // its leaf certificate (spiffe://…/svc/user_api) is the identity its Connect clients call with.
        connect: { native: SAMPLE_CONNECT },
      }),
    }),
    ConsulModule.forFeature([
      {
        service: 'user_service',
        transport: Transport.GRPC,
        // connect: only instances registered for Connect, called over mTLS; a server must present
        // a certificate naming user_service.
        options: { package: 'user', protoPath: USER_PROTO, connect: SAMPLE_CONNECT },
      },
    ]),
  ],
  controllers: [UsersController, GreetingController],
  providers: [ConsulHealthContributor],
})
export class AppModule {}
