import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createSecureContext, createServer, type Server } from 'node:tls';
import { makeCertificates } from '../../test/helpers/certificates.js';
import { probeGrpcHealth } from './grpc-health.probe.js';

describe('probeGrpcHealth over TLS', () => {
  let server: Server;
  const serverNames: string[] = [];

  beforeAll(async () => {
    const certificates = makeCertificates();
    const context = createSecureContext({
      cert: readFileSync(certificates.file('dc1-server-consul-0.pem')),
      key: readFileSync(certificates.file('dc1-server-consul-0-key.pem')),
    });
    // A TLS server that notes the server name each client sends (SNI), then hangs up: enough to see
    // what the probe's handshake carries, without a gRPC server behind it.
    server = createServer({
      SNICallback: (name, callback) => {
        serverNames.push(name);
        callback(null, context);
      },
      secureContext: context,
    });
    server.on('secureConnection', (socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends a host name, never the IP address, as the TLS server name (Node deprecates an IP: DEP0123)', async () => {
    const { port } = server.address() as AddressInfo;

    expect(await probeGrpcHealth(`127.0.0.1:${port}`, 2_000, { tls: true })).toBe('unreachable');

    expect(serverNames.length).toBeGreaterThan(0);
    expect(new Set(serverNames)).toEqual(new Set(['localhost']));
  });
});
