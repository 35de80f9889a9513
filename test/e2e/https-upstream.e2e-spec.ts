import { Injectable, Module } from '@nestjs/common';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ConsulHttpClient, UpstreamHttpTransportError, ConsulModule, ConsulService } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { makeCertificates } from '../helpers/certificates.js';
import { consulOptions, startHttpApp } from '../helpers/consul-app.js';

const certs = makeCertificates();
const other = makeCertificates(); // an unrelated CA
const clientTls = {
  ca: readFileSync(certs.file('consul-agent-ca.pem')),
  cert: readFileSync(certs.file('dc1-client-consul-0.pem')),
  key: readFileSync(certs.file('dc1-client-consul-0-key.pem')),
};

@Injectable()
class SecureCallers {
  constructor(
    @ConsulService('secure') readonly withCert: ConsulHttpClient,
    @ConsulService('secure_no_cert') readonly withoutCert: ConsulHttpClient,
    @ConsulService('secure_wrong_ca') readonly wrongCa: ConsulHttpClient,
  ) {}
}

@Module({
  imports: [
    ConsulModule.forFeature([
      { service: 'secure', transport: 'http', options: { scheme: 'https', tls: clientTls } },
      { service: 'secure_no_cert', transport: 'http', options: { scheme: 'https', tls: { ca: clientTls.ca } } },
      {
        service: 'secure_wrong_ca',
        transport: 'http',
        options: { scheme: 'https', tls: { ...clientTls, ca: readFileSync(other.file('consul-agent-ca.pem')) } },
      },
    ]),
  ],
  providers: [SecureCallers],
})
class SecureCallersModule {}

describe('HTTPS upstreams with mutual TLS (ConsulHttpClient with its own CA and client certificate)', () => {
  const suite = useConsulAgent();
  let server: Server;

  beforeAll(async () => {
    // An instance that requires a client certificate signed by the CA (Consul's server cert covers 127.0.0.1).
    server = createServer(
      {
        ca: clientTls.ca,
        cert: readFileSync(certs.file('dc1-server-consul-0.pem')),
        key: readFileSync(certs.file('dc1-server-consul-0-key.pem')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ name: 'secure-1', client: peer.subject?.CN }));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    for (const name of ['secure', 'secure_no_cert', 'secure_wrong_ca']) {
      await suite.agent.register({ ID: `${name}-1`, Name: name, Address: '127.0.0.1', Port: port });
    }
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(certs.dir, { recursive: true, force: true });
    rmSync(other.dir, { recursive: true, force: true });
  });

  it('calls the instance over HTTPS, verifying it with the given CA and presenting its certificate', async () => {
    const { app } = await startHttpApp(consulOptions(suite.agent), { imports: [SecureCallersModule] });
    suite.apps.push({ app });
    const callers = app.get(SecureCallers);

    expect(await callers.withCert.get('/who')).toEqual({ name: 'secure-1', client: 'client.dc1.consul' });

    const noCert = await callers.withoutCert.get('/who').catch((error: unknown) => error);
    expect(noCert).toBeInstanceOf(UpstreamHttpTransportError);
    expect((noCert as Error).message).toMatch(
      /GET \/who on service "secure_no_cert" failed after 2 attempt\(s\): 127\.0\.0\.1:\d+: /,
    );

    const wrongCa = await callers.wrongCa.get('/who').catch((error: unknown) => error);
    expect(wrongCa).toBeInstanceOf(UpstreamHttpTransportError);
    expect((wrongCa as Error).message).toMatch(/certificate/i);
  });
});
