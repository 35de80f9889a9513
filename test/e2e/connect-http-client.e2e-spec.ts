import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ConsulHttpClient,
  ConsulModule,
  UpstreamHttpResponseError,
  UpstreamHttpTransportError,
  consulConnectHttpsOptions,
  getConsulServiceToken,
} from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { connectPeer, createIntention, deleteIntention } from '../helpers/connect-peer.js';
import { eventually } from '../helpers/eventually.js';

/** Who called, as the api's server saw it: the caller's SPIFFE id and certificate serial. */
interface Seen {
  caller: string;
  serial: string;
}

@Controller()
class WhoController {
  @Get('who')
  who(
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
    @Query('close') close?: string,
  ): Seen {
    // `?close=1` ends the connection after the answer: the client's next call opens a new one.
    if (close) res.setHeader('connection', 'close');
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    return { caller: peer.subjectaltname ?? '', serial: peer.serialNumber };
  }
}

describe('Connect native: the HTTP client', () => {
  const suite = useConsulAgent();

  async function startApi(): Promise<TestApp> {
    const started = await startHttpApp(
      consulOptions(suite.agent, { service: { name: 'api' }, connect: { native: true } }),
      { controllers: [WhoController], httpsOptions: consulConnectHttpsOptions() },
    );
    suite.apps.push(started);
    return started;
  }

  /** "web", Connect native too, with a Connect client of "api". */
  async function startWeb(): Promise<TestApp & { api: ConsulHttpClient }> {
    const started = await startHttpApp(
      consulOptions(suite.agent, { service: { name: 'web' }, connect: { native: true } }),
      {
        imports: [
          ConsulModule.forFeature([{ service: 'api', transport: 'http', options: { connect: true, timeout: '2s' } }]),
        ],
        httpsOptions: consulConnectHttpsOptions(),
      },
    );
    suite.apps.push(started);
    return { ...started, api: started.app.get<ConsulHttpClient>(getConsulServiceToken('api')) };
  }

  /** The first answer of "api" once its instance is registered and passing. */
  function firstAnswer(api: ConsulHttpClient): Promise<Seen> {
    return eventually(() => api.get<Seen>('/who').catch(() => undefined), { what: 'a first answer of api' });
  }

  async function stop(started: TestApp): Promise<void> {
    suite.apps.splice(suite.apps.indexOf(started), 1);
    await started.app.close();
  }

  it("calls api over mTLS as web: the server sees web's SPIFFE id", async () => {
    await startApi();
    const web = await startWeb();
    const seen = await firstAnswer(web.api);
    expect(seen.caller).toMatch(/^URI:spiffe:\/\/[^/]+\.consul\/ns\/default\/dc\/dc1\/svc\/web$/);
  });

  it("returns the gate's 403 as api's answer under a deny intention, and calls again once it is deleted", async () => {
    await startApi();
    const web = await startWeb();
    await firstAnswer(web.api);

    const id = await createIntention(suite.agent, 'web', 'api', 'deny');
    const refused = await eventually(
      () =>
        web.api.get('/who').then(
          () => undefined,
          (error: unknown) => error,
        ),
      { intervalMs: 20, timeoutMs: 5_000, what: 'web refused after the deny' },
    );
    expect(refused).toBeInstanceOf(UpstreamHttpResponseError);
    expect((refused as UpstreamHttpResponseError).status).toBe(403);
    expect((refused as UpstreamHttpResponseError).body).toMatchObject({
      message: expect.stringMatching(/"web" may not call "api": .*DENY/),
    });

    await deleteIntention(suite.agent, id);
    await eventually(() => web.api.get('/who').catch(() => undefined), {
      intervalMs: 20,
      what: 'web admitted after the deny is deleted',
    });
  });

  it('refuses a server that presents another identity, naming both, with one warning for the instance', async () => {
    const api = await startApi();
    const web = await startWeb();
    const genuine = await firstAnswer(web.api);
    expect(genuine.caller).toContain('/svc/web');

    // An HTTPS server holding the leaf of "other", registered as an instance of "api".
    const other = await connectPeer(suite.agent, 'other');
    let reached = 0;
    const impostor: Server = createServer(
      { key: other.key, cert: other.cert, ca: other.ca, requestCert: true, rejectUnauthorized: false },
      (_req, res) => {
        reached++;
        res.end('{"caller":"impostor"}');
      },
    );
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const port = (impostor.address() as { port: number }).port;
      await suite.agent.register({
        ID: 'api-impostor',
        Name: 'api',
        Address: '127.0.0.1',
        Port: port,
        Connect: { Native: true },
        Check: { TTL: '60s', Status: 'passing' },
      });
      await stop(api);

      const failure = await eventually(
        () =>
          web.api.get('/who').then(
            () => undefined,
            (error: Error) => error.message.includes(`127.0.0.1:${port}`) && error,
          ),
        { what: 'a call that reaches only the impostor' },
      );
      expect(failure).toBeInstanceOf(UpstreamHttpTransportError);
      expect(failure.message).toContain(`presented "${other.uri}"`);
      expect(failure.message).toMatch(/not "spiffe:\/\/[^/]+\.consul\/ns\/default\/dc\/<dc>\/svc\/api"/);
      await expect(web.api.get('/who')).rejects.toThrow(UpstreamHttpTransportError);
      expect(reached).toBe(0);

      const warnings = [...api.logger.lines, ...web.logger.lines].filter(
        (line) => line.startsWith('WARN [ConsulConnect]') && line.includes('api-impostor'),
      );
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(other.uri);
    } finally {
      await suite.agent.deregister('api-impostor');
      await new Promise((resolve) => impostor.close(resolve));
    }
  });
});
