import { fileURLToPath } from 'node:url';

/** Absolute path of the standard `grpc.health.v1` proto shipped with this package. */
export const GRPC_HEALTH_PROTO_PATH = fileURLToPath(
  new URL('../../proto/grpc/health/v1/health.proto', import.meta.url),
);

/** `grpc.health.v1.HealthCheckResponse.ServingStatus`. */
export enum GrpcServingStatus {
  UNKNOWN = 0,
  SERVING = 1,
  NOT_SERVING = 2,
  SERVICE_UNKNOWN = 3,
}

/** How often a `Watch` stream re-runs the indicators; a change is sent at the next run. */
export const GRPC_HEALTH_WATCH_INTERVAL_MS = 5_000;

/** The proto package of the gRPC health service. */
export const GRPC_HEALTH_PACKAGE = 'grpc.health.v1';

/** The parts of Nest's gRPC options this helper touches. */
export interface GrpcPackageOptions {
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
