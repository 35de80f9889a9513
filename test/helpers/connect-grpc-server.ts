import { Module, type INestMicroservice, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AsyncMicroserviceOptions, Transport } from '@nestjs/microservices';
import { ConsulConnect, ConsulModule, withGrpcHealth } from '../../lib/index.js';
import { CapturingLogger } from './capturing-logger.js';
import type { ConsulAgent } from './consul-agent.js';
import { consulOptions } from './consul-app.js';
import { HELLO_PROTO } from './consul-microservice.js';
import { freePort } from './free-ports.js';

export interface ConnectGrpcServer {
  app: INestMicroservice;
  port: number;
  logger: CapturingLogger;
}

/**
 * A Connect-native gRPC microservice `service` serving hello.Greeter with `controllers`, as a
 * user writes one: credentials from ConsulConnect, Consul's grpc check over TLS, grpc-js server
 * `channelOptions` as given. Listening and
 * registered when this resolves; the caller closes `app`.
 */
export async function startConnectGrpcServer(
  agent: ConsulAgent,
  service: string,
  controllers: Type[],
  channelOptions: Record<string, number> = {},
): Promise<ConnectGrpcServer> {
  const port = await freePort();
  @Module({
    imports: [
      ConsulModule.forRoot(
        consulOptions(agent, { service: { name: service, port, check: { type: 'grpc' } }, connect: { native: true } }),
      ),
    ],
    controllers,
  })
  class ConnectGrpcModule {}
  const logger = new CapturingLogger();
  const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(ConnectGrpcModule, {
    inject: [ConsulConnect],
    useFactory: (connect: ConsulConnect) => ({
      transport: Transport.GRPC,
      options: {
        ...withGrpcHealth({ package: 'hello', protoPath: HELLO_PROTO, url: `127.0.0.1:${port}` }),
        credentials: connect.grpcServerCredentials(),
        channelOptions,
      },
    }),
    logger,
    abortOnError: false,
  } as never);
  try {
    await app.listen();
  } catch (error) {
    await app.close();
    throw error;
  }
  return { app, port, logger };
}
