import { createRequire } from 'node:module';

type GrpcJs = typeof import('@grpc/grpc-js');
let grpcJs: GrpcJs | undefined;

/**
 * `@grpc/grpc-js`, loaded the way Nest's gRPC transport loads it (CommonJS `require`), so the
 * resolver we register and the channels Nest creates share one module instance.
 */
export function loadGrpcJs(): GrpcJs {
  if (!grpcJs) {
    try {
      grpcJs = createRequire(import.meta.url)('@grpc/grpc-js') as GrpcJs;
    } catch {
      throw new Error(
        'gRPC clients of nestjs-consul-kit need @grpc/grpc-js: npm install @grpc/grpc-js @grpc/proto-loader',
      );
    }
  }
  return grpcJs;
}
