import { fileURLToPath } from 'node:url';

/** Absolute path of the standard `grpc.health.v1` proto shipped with this package. */
export const GRPC_HEALTH_PROTO_PATH = fileURLToPath(
  new URL('../../proto/grpc/health/v1/health.proto', import.meta.url),
);

/** The proto package of the gRPC health service. */
export const GRPC_HEALTH_PACKAGE = 'grpc.health.v1';

/** The parts of Nest's gRPC options this helper touches. */
interface GrpcPackageOptions {
  package: string | string[];
  protoPath?: string | string[];
}

/**
 * Adds the standard gRPC health service to a Nest gRPC microservice's options, so Consul's
 * `grpc` check (and any gRPC load balancer) can ask this server whether it is serving:
 *
 * ```ts
 * app.connectMicroservice({ transport: Transport.GRPC, options: withGrpcHealth({ package: 'user', protoPath, url }) });
 * ```
 */
export function withGrpcHealth<T extends GrpcPackageOptions>(options: T): T {
  const packages = Array.isArray(options.package) ? options.package : [options.package];
  const protoPaths =
    options.protoPath === undefined ? [] : Array.isArray(options.protoPath) ? options.protoPath : [options.protoPath];
  return {
    ...options,
    package: packages.includes(GRPC_HEALTH_PACKAGE) ? packages : [...packages, GRPC_HEALTH_PACKAGE],
    protoPath: protoPaths.includes(GRPC_HEALTH_PROTO_PATH) ? protoPaths : [...protoPaths, GRPC_HEALTH_PROTO_PATH],
  };
}
