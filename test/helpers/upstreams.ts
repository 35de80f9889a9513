import { Controller, Get, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import { GrpcMethod, MessagePattern, type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { HELLO_PROTO } from './consul-microservice.js';
import { freePort } from './free-ports.js';

/**
 * A gRPC Greeter that answers with its own name, so tests see which instance served a call.
 * With `hold`, a call for the name "slow" waits for it before answering (`held()` counts those waiting).
 */
export async function startGreeter(
  name: string,
  { hold }: { hold?: Promise<void> } = {},
): Promise<{ app: INestMicroservice; port: number; calls: () => number; held: () => number }> {
  let calls = 0;
  let held = 0;
  @Controller()
  class NamedGreeter {
    @GrpcMethod('Greeter', 'Hello')
    async hello({ name: who }: { name: string }) {
      calls++;
      if (hold && who === 'slow') {
        held++;
        await hold;
        held--;
      }
      return { message: `${name}:${who}` };
    }
  }
  @Module({ controllers: [NamedGreeter] })
  class GreeterModule {}
  const port = await freePort();
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(GreeterModule, {
    transport: Transport.GRPC,
    options: { package: 'hello', protoPath: HELLO_PROTO, url: `127.0.0.1:${port}` },
    logger: false,
  });
  await app.listen();
  return { app, port, calls: () => calls, held: () => held };
}

/** A controller answering GET /who with `name`. */
export function whoAmI(name: string): Type {
  @Controller()
  class WhoAmI {
    @Get('who')
    who() {
      return { name };
    }
  }
  return WhoAmI;
}

/**
 * A Nest TCP microservice answering the "who" pattern with `name`. With `hold`, the "slow"
 * pattern answers `name` once it settles (`held()` counts those waiting).
 */
export async function startTcpWhoAmI(
  name: string,
  { hold }: { hold?: Promise<void> } = {},
): Promise<{ app: INestMicroservice; port: number; held: () => number }> {
  let held = 0;
  @Controller()
  class TcpWhoAmI {
    @MessagePattern('who')
    who() {
      return name;
    }

    @MessagePattern('slow')
    async slow() {
      held++;
      await hold;
      held--;
      return name;
    }
  }
  @Module({ controllers: [TcpWhoAmI] })
  class TcpModule {}
  const port = await freePort();
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(TcpModule, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port },
    logger: false,
  });
  await app.listen();
  return { app, port, held: () => held };
}
