import { Controller, type DynamicModule, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import { GrpcMethod, type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { fileURLToPath } from 'node:url';
import type { Observable } from 'rxjs';
import { ConsulModule, type ConsulModuleOptions, withGrpcHealth } from '../../lib/index.js';
import { CapturingLogger } from './capturing-logger.js';

export const HELLO_PROTO = fileURLToPath(new URL('../fixtures/hello.proto', import.meta.url));

/** The client side of `hello.Greeter` (HELLO_PROTO), as `ClientGrpc.getService('Greeter')` returns it. */
export interface Greeter {
  hello(request: { name: string }): Observable<{ message: string }>;
}

@Controller()
export class GreeterController {
  @GrpcMethod('Greeter', 'Hello')
  hello({ name }: { name: string }) {
    return { message: `hello ${name}` };
  }
}

export interface TestMicroservice {
  app: INestMicroservice;
  logger: CapturingLogger;
}

/** A microservice-only app (no HTTP server) importing `ConsulModule.forRoot(options)`. */
export async function createMicroservice(
  options: ConsulModuleOptions,
  transport: MicroserviceOptions,
  controllers: Type[] = [],
): Promise<TestMicroservice> {
  const consul: DynamicModule = ConsulModule.forRoot(options);
  @Module({ imports: [consul], controllers })
  class MicroserviceModule {}
  const logger = new CapturingLogger();
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(MicroserviceModule, {
    ...transport,
    logger,
    abortOnError: false,
  });
  return { app, logger };
}

export function tcpTransport(port: number): MicroserviceOptions {
  return { transport: Transport.TCP, options: { host: '127.0.0.1', port } };
}

export function grpcTransport(port: number, { health = true } = {}): MicroserviceOptions {
  const base = { package: 'hello', protoPath: HELLO_PROTO, url: `127.0.0.1:${port}` };
  return { transport: Transport.GRPC, options: health ? withGrpcHealth(base) : base };
}
