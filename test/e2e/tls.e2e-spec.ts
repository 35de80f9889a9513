import { readFileSync, rmSync } from 'node:fs';
import { ConsulUnavailableError } from '../../lib/index.js';
import { makeCertificates } from '../helpers/certificates.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, listenFailure, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { eventually } from '../helpers/eventually.js';

describe('HTTPS to the agent (real agent serving HTTPS only, client certificates required)', () => {
  const certs = makeCertificates();
  const other = makeCertificates(); // an unrelated CA
  let agent: ConsulAgent;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    agent = await ConsulAgent.start({
      tls: {
        caFile: certs.file('consul-agent-ca.pem'),
        certFile: certs.file('dc1-server-consul-0.pem'),
        keyFile: certs.file('dc1-server-consul-0-key.pem'),
        verifyIncoming: true,
        client: { certFile: certs.file('dc1-client-consul-0.pem'), keyFile: certs.file('dc1-client-consul-0-key.pem') },
      },
    });
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map(({ app }) => app.close()));
  });
  afterAll(async () => {
    await agent?.stop();
    rmSync(certs.dir, { recursive: true, force: true });
    rmSync(other.dir, { recursive: true, force: true });
  });

  const https = (tls: { ca: string; cert?: string; key?: string }) => ({
    host: '127.0.0.1',
    port: agent.ports.https,
    secure: true,
    timeout: '2s',
    ca: readFileSync(tls.ca),
    ...(tls.cert ? { cert: readFileSync(tls.cert), key: readFileSync(tls.key!) } : {}),
  });

  it('registers over HTTPS, verifying the agent with the given CA and presenting a client certificate', async () => {
    const started = await startHttpApp({
      ...consulOptions(agent, { service: { name: 'tls_api' } }),
      consul: https({
        ca: certs.file('consul-agent-ca.pem'),
        cert: certs.file('dc1-client-consul-0.pem'),
        key: certs.file('dc1-client-consul-0-key.pem'),
      }),
      registration: { failFast: true },
    });
    apps.push(started);
    await eventually(async () => (await agent.health('tls_api')).length === 1, {
      what: 'tls_api registered over HTTPS',
    });
    // HTTPS only: nothing answers plain HTTP.
    await expect(fetch(`http://127.0.0.1:${agent.ports.http}/v1/status/leader`)).rejects.toThrow();
  });

  it('refuses an agent whose certificate the CA did not sign, with a clear error', async () => {
    const started = await startHttpApp(
      {
        ...consulOptions(agent, { service: { name: 'tls_wrong_ca' } }),
        consul: https({
          ca: other.file('consul-agent-ca.pem'),
          cert: certs.file('dc1-client-consul-0.pem'),
          key: certs.file('dc1-client-consul-0-key.pem'),
        }),
        registration: { failFast: true },
      },
      { listen: false },
    );
    apps.push(started);
    const error = (await listenFailure(started.app))!;
    expect(error).toBeInstanceOf(ConsulUnavailableError);
    expect(error.message).toMatch(
      new RegExp(
        `Consul at https://127.0.0.1:${agent.ports.https} is not usable: .*(certificate|self-signed|SELF_SIGNED)`,
        'i',
      ),
    );
  });

  it('fails clearly without a client certificate when the agent requires one', async () => {
    const started = await startHttpApp(
      {
        ...consulOptions(agent, { service: { name: 'tls_no_cert' } }),
        consul: https({ ca: certs.file('consul-agent-ca.pem') }),
        registration: { failFast: true },
      },
      { listen: false },
    );
    apps.push(started);
    const error = (await listenFailure(started.app))!;
    expect(error).toBeInstanceOf(ConsulUnavailableError);
    expect(error.message).toContain(`Consul at https://127.0.0.1:${agent.ports.https} is not usable`);
    expect(await agent.health('tls_no_cert')).toEqual([]);
  });
});
