import { MissingPeerError, optionalGrpcJs } from '../../common/optional-peers.js';

type GrpcJs = typeof import('@grpc/grpc-js');

/** `@grpc/grpc-js` for our gRPC clients, or a {@link MissingPeerError} with the install command. */
export function loadGrpcJs(): GrpcJs {
  const grpcJs = optionalGrpcJs();
  if (!grpcJs)
    throw new MissingPeerError('A gRPC client of nestjs-consul-kit', ['@grpc/grpc-js', '@grpc/proto-loader']);
  return grpcJs;
}
