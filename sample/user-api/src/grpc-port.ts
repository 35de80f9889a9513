import { freePort } from '../../free-port.js';

/**
 * The port of user_api's gRPC side: given to Consul (nothing in Nest tells a connected microservice's port)
 * and to the gRPC server, so both agree.
 */
export const GRPC_PORT = Number(process.env.GRPC_PORT) || (await freePort());
