import { createServer } from 'node:net';

/** The tutorial's get_ip_port(), port half: let the OS pick a free port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The port of user_api's gRPC side: given to Consul (nothing in Nest tells a connected microservice's port)
 * and to the gRPC server, so both agree.
 */
export const GRPC_PORT = Number(process.env.GRPC_PORT) || (await freePort());
