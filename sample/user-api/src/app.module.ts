import { Module } from '@nestjs/common';
import { MemoryHealthIndicator, TerminusModule } from '@nestjs/terminus';
import { ConsulModule } from 'nestjs-consul-kit';
import { UsersController } from './users.controller.js';

/** CONSUL_HTTP_ADDR, as Consul's own CLI reads it: "127.0.0.1:8500" or "http://127.0.0.1:8500". */
function consulAddress() {
  const url = new URL((process.env.CONSUL_HTTP_ADDR ?? '127.0.0.1:8500').replace(/^(?!https?:\/\/)/, 'http://'));
  return { host: url.hostname, port: Number(url.port || 8500), secure: url.protocol === 'https:' };
}

@Module({
  imports: [
    ConsulModule.forRootAsync({
      imports: [TerminusModule],
      inject: [MemoryHealthIndicator],
      useFactory: (memory: MemoryHealthIndicator) => ({
        consul: { ...consulAddress(), token: process.env.CONSUL_HTTP_TOKEN },
        // Address and port are not configured: they are read from the listening server.
        service: { name: 'user_api', tags: ['user'], check: { type: 'http', path: '/health', interval: '2s' } },
        registration: { drainDelay: '500ms' },
        health: { indicators: [() => memory.checkHeap('memory_heap', 512 * 1024 * 1024)] },
      }),
    }),
  ],
  controllers: [UsersController],
})
export class AppModule {}
