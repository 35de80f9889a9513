import { isIP } from 'node:net';

export type GrpcHealthProbeResult = 'serving' | 'not-serving' | 'unimplemented' | 'unreachable';

const GRPC_UNIMPLEMENTED = 12;

/**
 * Calls `grpc.health.v1.Health/Check` on `target` the way Consul's GRPC check will, to tell
 * "the app serves no health service" (a setup error) from "not listening yet".
 * The two tiny messages are encoded by hand, so no proto loader is needed.
 *
 * With `tls` (a Connect-native server), over TLS as Consul's check with `GRPCUseTLS` and
 * `TLSSkipVerify` does: the server's certificate is not checked and none is presented, which the
 * Connect server admits for Health/Check only. grpc-js would send the target's host as the TLS
 * server name (SNI), and for an IP address Node prints a deprecation warning (DEP0123, RFC 6066
 * allows host names only); Go's client, Consul's, sends no server name for an IP. A Connect
 * server picks no certificate by name, so any host name does: `localhost`.
 */
export async function probeGrpcHealth(
  target: string,
  timeoutMs: number,
  { tls = false }: { tls?: boolean } = {},
): Promise<GrpcHealthProbeResult> {
  const grpc = await import('@grpc/grpc-js');
  const credentials = tls
    ? grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined })
    : grpc.credentials.createInsecure();
  const client = new grpc.Client(target, credentials, tls ? serverNameFor(target) : {});
  try {
    return await new Promise<GrpcHealthProbeResult>((resolve) => {
      client.makeUnaryRequest<Buffer, Buffer>(
        '/grpc.health.v1.Health/Check',
        (request) => request,
        (response) => response,
        Buffer.alloc(0), // HealthCheckRequest{ service: '' }: the whole server
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error) return resolve(error.code === GRPC_UNIMPLEMENTED ? 'unimplemented' : 'unreachable');
          // HealthCheckResponse{ status = 1 }: tag 0x08, then the enum as a varint; absent means UNKNOWN.
          const status = response && response.length >= 2 && response[0] === 0x08 ? response[1] : 0;
          resolve(status === 1 ? 'serving' : 'not-serving');
        },
      );
    });
  } finally {
    client.close();
  }
}

/** grpc-js's option to send `localhost` as the server name when `target`'s host is an IP address. */
function serverNameFor(target: string): { 'grpc.ssl_target_name_override'?: string } {
  const host = target.slice(0, target.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
  return isIP(host) ? { 'grpc.ssl_target_name_override': 'localhost' } : {};
}
