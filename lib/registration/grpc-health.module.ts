import { type DynamicModule, Module } from '@nestjs/common';
import { isInstalled, loadMicroservices } from '../common/optional-peers.js';
import { grpcHealthController } from './grpc-health.controller.js';

/**
 * `grpc.health.v1.Health`, for apps that can serve gRPC: where `@nestjs/microservices` and
 * `@grpc/grpc-js` are both installed. Anywhere else it is empty: an HTTP-only app needs neither
 * package, and Nest does not list a controller it cannot use among its routes.
 */
@Module({})
export class ConsulGrpcHealthModule {
  static async forCore(core: DynamicModule, health: DynamicModule): Promise<DynamicModule> {
    // Installed is enough: the controller needs grpc-js only once Nest's gRPC server serves it.
    const microservices = isInstalled('@grpc/grpc-js') ? await loadMicroservices() : undefined;
    if (!microservices) return { module: ConsulGrpcHealthModule };
    return {
      module: ConsulGrpcHealthModule,
      imports: [core, health],
      controllers: [grpcHealthController(microservices)],
    };
  }
}
