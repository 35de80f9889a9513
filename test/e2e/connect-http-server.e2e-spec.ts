import { Controller, Get } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { ConsulConnectError, consulConnectHttpsOptions } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { makeCertificates } from '../helpers/certificates.js';
import { consulOptions, listenFailure, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { connectPeer, httpsGet, createIntention, deleteIntention } from '../helpers/connect-peer.js';
import { eventually } from '../helpers/eventually.js';
import { FastifyAppProcess } from '../helpers/fastify-app-process.js';

@Controller()
class HelloController {
  @Get('hello')
  hello() {
    return { hello: 'from api' };
  }
}

describe('Connect native: the HTTP server (Express)', () => {
  const suite = useConsulAgent();

  async function startApi(): Promise<TestApp> {
    const started = await startHttpApp(
      consulOptions(suite.agent, { service: { name: 'api' }, connect: { native: true } }),
      { controllers: [HelloController], httpsOptions: consulConnectHttpsOptions() },
    );
    suite.apps.push(started);
    return started;
  }

  it('registers Connect native with a passing TLS check, serves its leaf, and admits a caller of the mesh', async () => {
    const { port } = await startApi();
    const web = await connectPeer(suite.agent, 'web');

    // Consul's own run of the check (not the status registered with it) reaches the TLS endpoint.
    const entry = await eventually(
      async () => {
        const [found] = await suite.agent.health('api');
        const ran = found?.Checks.find((check) => check.ServiceID === found.Service.ID);
        return ran?.Status === 'passing' && ran.Output.includes('HTTP GET https://') && found;
      },
      { what: "api's check run by Consul over HTTPS and passing" },
    );
    const registered = await suite.agent.json(`/v1/agent/service/${entry.Service.ID}`);
    expect(registered.Connect).toEqual({ Native: true });

    const answer = await httpsGet(port, '/hello', web);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ hello: 'from api' });
    expect(answer.serverUri).toMatch(/^spiffe:\/\/[^/]+\.consul\/ns\/default\/dc\/dc1\/svc\/api$/);
  });

  it('refuses a caller without a certificate (except on the health endpoint) and one from another CA', async () => {
    const { port, logger } = await startApi();
    const web = await connectPeer(suite.agent, 'web');

    const anonymous = await httpsGet(port, '/hello', { ca: web.ca });
    expect(anonymous.status).toBe(403);
    expect(JSON.parse(anonymous.body).message).toContain('no client certificate');
    expect((await httpsGet(port, '/health', { ca: web.ca })).status).toBe(200);

    const foreign = makeCertificates();
    const stranger = await httpsGet(port, '/hello', {
      ca: web.ca,
      key: readFileSync(foreign.file('dc1-client-consul-0-key.pem'), 'utf8'),
      cert: readFileSync(foreign.file('dc1-client-consul-0.pem'), 'utf8'),
    });
    expect(stranger.status).toBe(403);
    expect(JSON.parse(stranger.body).message).toContain("not from this mesh's CA");

    // Plain HTTP to the TLS port never reaches a route.
    await expect(fetch(`http://127.0.0.1:${port}/hello`).then((res) => res.status)).rejects.toThrow();
    expect(logger.find('WARN', 'ConsulConnect')).toEqual([]);
  });

  it('follows the intentions: a deny refuses new calls within a second, and its deletion lets them through', async () => {
    const { port, logger } = await startApi();
    const web = await connectPeer(suite.agent, 'web');
    expect((await httpsGet(port, '/hello', web)).status).toBe(200); // the decision is now cached

    const put = Date.now();
    const id = await createIntention(suite.agent, 'web', 'api', 'deny');
    const refused = await eventually(
      async () => {
        const answer = await httpsGet(port, '/hello', web);
        return answer.status === 403 && { answer, after: Date.now() - put };
      },
      { intervalMs: 10, timeoutMs: 5_000, what: 'web refused after the deny' },
    );
    expect(JSON.parse(refused.answer.body).message).toMatch(/"web" may not call "api": .*DENY/);
    expect(refused.after).toBeLessThanOrEqual(1_000);
    expect(logger.find('WARN', 'ConsulConnect').join('\n')).toContain('Refused a Connect call from "web" to "api"');

    await deleteIntention(suite.agent, id);
    await eventually(async () => (await httpsGet(port, '/hello', web)).status === 200, {
      intervalMs: 10,
      what: 'web admitted after the deny is deleted',
    });
  });

  it('fails the start, naming the fix, when the HTTP server is plain HTTP', async () => {
    const started = await startHttpApp(
      consulOptions(suite.agent, { service: { name: 'api' }, connect: { native: true } }),
      { listen: false },
    );
    suite.apps.push(started);
    const failure = await listenFailure(started.app);
    expect(failure).toBeInstanceOf(ConsulConnectError);
    expect(failure!.message).toContain('consulConnectHttpsOptions()');
  });
});

describe('Connect native: the HTTP server (Fastify, in its own process)', () => {
  const suite = useConsulAgent();
  let fastify: FastifyAppProcess | undefined;
  afterEach(async () => {
    await fastify?.stop();
    fastify = undefined;
  });

  it('serves its leaf, admits a caller of the mesh, refuses one without a certificate, and passes its TLS check', async () => {
    fastify = await FastifyAppProcess.start(suite.agent, 'users', { connect: true });
    const web = await connectPeer(suite.agent, 'web');

    const admitted = await httpsGet(fastify.port, '/api/v1/users/7', web);
    expect(admitted.status).toBe(200);
    expect(JSON.parse(admitted.body)).toEqual({ id: '7' });
    expect(admitted.serverUri).toMatch(/\/svc\/users$/);

    const anonymous = await httpsGet(fastify.port, '/api/v1/users/7', { ca: web.ca });
    expect(anonymous.status).toBe(403);
    expect(JSON.parse(anonymous.body).message).toContain('no client certificate');

    await eventually(
      async () => {
        const [found] = await suite.agent.health('users');
        const ran = found?.Checks.find((check) => check.ServiceID === found.Service.ID);
        return ran?.Status === 'passing' && ran.Output.includes('HTTP GET https://');
      },
      { what: "the Fastify app's check run by Consul over HTTPS and passing" },
    );
  });
});
