import { Injectable, Module } from '@nestjs/common';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import {
  ConsulDiscoveryService,
  ConsulHttpClient,
  UpstreamHttpTransportError,
  ConsulModule,
  ConsulService,
} from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { CountingHttpProxy } from '../helpers/counting-proxy.js';
import { eventually } from '../helpers/eventually.js';
import { HttpUpstream } from '../helpers/http-upstream.js';
import { ttlInstance } from '../helpers/service-checks.js';

@Injectable()
class Callers {
  constructor(
    @ConsulService('hot_who') readonly who: ConsulHttpClient,
    @ConsulService('stalled') readonly stalled: ConsulHttpClient,
    @ConsulService('silent') readonly silent: ConsulHttpClient,
  ) {}
}

@Module({
  imports: [
    ConsulModule.forFeature([
      { service: 'hot_who', transport: 'http' },
      { service: 'stalled', transport: 'http', options: { timeout: '300ms', retries: 1 } },
      // Its own service: no instance left over from another test to fail on first.
      { service: 'silent', transport: 'http', options: { timeout: '300ms', retries: 1 } },
    ]),
  ],
  providers: [Callers],
})
class CallersModule {}

/** Counts the requests undici creates, through its public diagnostics channel (published when a request is made). */
function countUndiciRequests(): { readonly count: number; stop(): void } {
  const counter = { count: 0, stop: () => unsubscribe('undici:request:create', onCreate) };
  const onCreate = () => counter.count++;
  subscribe('undici:request:create', onCreate);
  return counter;
}

describe('ConsulHttpClient per-request path (real Consul agent behind a counting proxy)', () => {
  const suite = useConsulAgent();
  let proxy: CountingHttpProxy;
  let caller: TestApp;
  let callers: Callers;

  beforeAll(async () => {
    proxy = await CountingHttpProxy.start(suite.agent.httpPort);
    caller = await startHttpApp(
      consulOptions(suite.agent, { consul: { port: proxy.port }, registration: { enabled: false } }),
      { imports: [CallersModule], listen: false },
    );
    callers = caller.app.get(Callers);
  });
  afterAll(async () => {
    await caller?.app.close();
    await proxy?.stop();
  });

  it('sends a request whose instances are known before its first await, and asks Consul nothing for it', async () => {
    const upstreams = await Promise.all(['one', 'two'].map((name) => HttpUpstream.start(suite.agent, 'hot_who', name)));
    try {
      await eventually(
        async () => (await suite.agent.health('hot_who')).every((e) => e.Checks.every((c) => c.Status === 'passing')),
        { what: 'two passing hot_who instances' },
      );
      // The first request waits for discovery's first answer; then the watch's blocking query is out.
      expect(await callers.who.get('/who')).toEqual({ name: expect.any(String) });
      const discovery = caller.app.get(ConsulDiscoveryService);
      await eventually(() => (discovery.watchStats('hot_who')?.requests ?? 0) >= 2, { what: 'the blocking query' });
      const consulRequests = () => proxy.requests.filter((r) => r.path === '/v1/health/service/hot_who').length;
      const before = consulRequests();

      const undici = countUndiciRequests();
      const answers = new Set<string>();
      try {
        for (let i = 0; i < 50; i++) {
          const created = undici.count;
          const answer = callers.who.get<{ name: string }>('/who');
          // Structure, not timing: the request exists in undici already, so nothing was awaited first.
          expect(undici.count).toBe(created + 1);
          answers.add((await answer).name);
        }
      } finally {
        undici.stop();
      }
      expect([...answers].toSorted()).toEqual(['one', 'two']);
      // No Consul request per call: at most the watch's own blocking query coming round once.
      expect(consulRequests() - before).toBeLessThanOrEqual(1);
    } finally {
      await Promise.all(upstreams.map((u) => suite.agent.deregister(u.name)));
      await Promise.all(upstreams.map((u) => u.close()));
    }
  });

  it('ends an attempt that waits longer than its timeout for the headers or the body, closes its connection, and says which', async () => {
    // Two instances that take a request and never finish: one sends nothing, one stops mid-body.
    let closed = 0;
    const stall = (sendHeaders: boolean) =>
      createServer((request, response) => {
        request.socket.once('close', () => closed++);
        if (sendHeaders) {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.write('{"name":');
        }
      });
    const servers: Server[] = [stall(false), stall(true)];
    const ports = await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve) =>
            server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
          ),
      ),
    );
    try {
      for (const [i, port] of ports.entries()) await suite.agent.register(ttlInstance(`stalled-${i}`, 'stalled', port));
      await eventually(async () => (await suite.agent.health('stalled')).length === 2, {
        what: 'two stalled instances',
      });
      await eventually(
        async () => (await caller.app.get(ConsulDiscoveryService).getInstances('stalled')).length === 2,
        { what: 'both instances in the cache' },
      );

      const error = await callers.stalled.get('/slow').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UpstreamHttpTransportError);
      const { attempts } = error as UpstreamHttpTransportError;
      // Two attempts (retries: 1), each on another instance, each ended by the timeout of what it waited for.
      expect(attempts.map((a) => a.reason).toSorted()).toEqual([
        'timed out waiting for the response body',
        'timed out waiting for the response headers',
      ]);
      expect(new Set(attempts.map((a) => a.instance)).size).toBe(2);
      // The aborted attempts close their connections: the servers see both go.
      await eventually(() => closed === 2, { what: 'both connections closed by the client' });
    } finally {
      for (const i of ports.keys()) await suite.agent.deregister(`stalled-${i}`);
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });

  it("stops a request and its retries when the caller's signal aborts, without counting the instance as failing", async () => {
    let received = 0;
    const silent = createServer(() => received++);
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)),
    );
    try {
      await suite.agent.register(ttlInstance('silent-1', 'silent', port));
      await eventually(async () => (await suite.agent.health('silent')).length === 1, {
        what: 'the instance passing',
      });
      await eventually(async () => (await caller.app.get(ConsulDiscoveryService).getInstances('silent')).length === 1, {
        what: 'the instance in the cache',
      });
      // A deadline on the whole request, shorter than the client's 300 ms per-wait timeout.
      const error = await callers.silent.get('/slow', { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
      expect((error as Error).name).toBe('TimeoutError');
      expect(error).not.toBeInstanceOf(UpstreamHttpTransportError);
      // Not retried (retries: 1): the caller gave up, the instance did not fail.
      expect(received).toBe(1);
      expect(callers.silent.status().ejected).toEqual([]);
      // Already aborted: nothing is sent.
      const before = received;
      const cancelled = await callers.silent
        .get('/slow', { signal: AbortSignal.abort(new Error('not now')) })
        .catch((e: unknown) => e);
      expect((cancelled as Error).message).toBe('not now');
      expect(received).toBe(before);
    } finally {
      await suite.agent.deregister('silent-1');
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
