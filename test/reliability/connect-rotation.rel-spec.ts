import { Controller, Get, Injectable, Module, Query, Req, Res } from '@nestjs/common';
import { type ClientGrpc, GrpcMethod, Transport } from '@nestjs/microservices';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { firstValueFrom } from 'rxjs';
import {
  ConsulDiscoveryService,
  ConsulHttpClient,
  ConsulModule,
  ConsulService,
  consulConnectHttpsOptions,
} from '../../lib/index.js';
import { GRPC_HEALTH_PROTO_PATH } from '../../lib/registration/grpc-health.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { type Greeter, HELLO_PROTO } from '../helpers/consul-microservice.js';
import { startConnectGrpcServer, type ConnectGrpcServer } from '../helpers/connect-grpc-server.js';
import { httpsGet, rotateConnectCa } from '../helpers/connect-peer.js';
import { eventually } from '../helpers/eventually.js';
import { failureSummary, steadyLoad } from '../helpers/steady-load.js';
import { report } from './report.js';

type GrpcJs = typeof import('@grpc/grpc-js');

/** The serial of the certificate the caller presented on this connection. */
@Controller()
class CallerHttpController {
  @Get('caller')
  caller(@Req() req: IncomingMessage, @Res({ passthrough: true }) res: ServerResponse, @Query('close') close?: string) {
    // `?close=1` ends the connection after the answer: the client's next call opens a new one.
    if (close) res.setHeader('connection', 'close');
    return { serial: (req.socket as TLSSocket).getPeerCertificate().serialNumber };
  }
}

@Controller()
class CallerGrpcController {
  @GrpcMethod('Greeter', 'Hello')
  hello(_request: unknown, _metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) {
    return { message: call.getAuthContext().sslPeerCertificate?.serialNumber ?? '' };
  }
}

@Injectable()
class Callers {
  readonly greeter: Greeter;
  constructor(
    @ConsulService('api') readonly api: ConsulHttpClient,
    @ConsulService('greeter') grpc: ClientGrpc,
  ) {
    this.greeter = grpc.getService<Greeter>('Greeter');
  }
}

@Module({
  imports: [
    ConsulModule.forFeature([
      // No retries on either: a call that fails is counted, not tried again.
      { service: 'api', transport: 'http', options: { connect: true, timeout: '2s', retries: 0 } },
      {
        service: 'greeter',
        transport: Transport.GRPC,
        options: { package: 'hello', protoPath: HELLO_PROTO, connect: true, retry: { maxAttempts: 1 } },
      },
    ]),
  ],
  providers: [Callers],
})
class CallersModule {}

const PER_SECOND = 100;
const LOAD_MS = 40_000;
/** The rotation starts this long into the load; Consul 1.8 re-signs every leaf within 30 s of it. */
const ROTATE_AT_MS = 5_000;

/**
 * A CA rotation (`PUT /v1/connect/ca/configuration` with a new key) while "web" calls the HTTP
 * server "api" and the gRPC server "greeter", both Connect native, 100 calls/s each. Every server
 * and client takes its new leaf and the new roots in place: no call may fail, and every server
 * must present a leaf of the new root before the load ends.
 */
describe('Connect CA rotation under load (HTTP and gRPC, 100 calls/s each, real Consul agent)', () => {
  let agent: ConsulAgent;
  let grpc: GrpcJs;
  let HealthClient: new (target: string, credentials: unknown) => Record<string, Function>;
  const apps: Array<TestApp | ConnectGrpcServer> = [];

  beforeAll(async () => {
    agent = await ConsulAgent.start();
    grpc = await import('@grpc/grpc-js');
    const loader = await import('@grpc/proto-loader');
    HealthClient = (grpc.loadPackageDefinition(loader.loadSync(GRPC_HEALTH_PROTO_PATH)) as any).grpc.health.v1.Health;
  });

  afterAll(async () => {
    for (const started of apps.toReversed()) await started.app.close();
    await agent?.stop();
  });

  /** Resolves once a TLS handshake that trusts `root` alone succeeds: the greeter serves a leaf it signed. */
  function greeterPresents(port: number, root: string): Promise<boolean> {
    const credentials = grpc.credentials.createSsl(Buffer.from(root), null, null, {
      // The mesh's certificates name a SPIFFE id, not a host.
      checkServerIdentity: () => undefined,
    });
    const health = new HealthClient(`127.0.0.1:${port}`, credentials);
    return new Promise<boolean>((resolve) =>
      health.Check({ service: '' }, { deadline: Date.now() + 1_000 }, (error: Error | null) => resolve(!error)),
    ).finally(() => health.close());
  }

  it(`${LOAD_MS / 1000} s of calls across a CA rotation: 0 failed, every server and client on the new root`, async () => {
    const api = await startHttpApp(consulOptions(agent, { service: { name: 'api' }, connect: { native: true } }), {
      controllers: [CallerHttpController],
      httpsOptions: consulConnectHttpsOptions(),
    });
    apps.push(api);
    // Connections last 2 s at most (a common setting, for balancing): gRPC keeps opening new ones
    // across the rotation, as HTTP does with `?close=1`, so both kinds of clients handshake with
    // whatever they hold then.
    const greeter = await startConnectGrpcServer(agent, 'greeter', [CallerGrpcController], {
      'grpc.max_connection_age_ms': 2_000,
      'grpc.max_connection_age_grace_ms': 2_000,
    });
    apps.push(greeter);
    const web = await startHttpApp(consulOptions(agent, { service: { name: 'web' }, connect: { native: true } }), {
      imports: [CallersModule],
      httpsOptions: consulConnectHttpsOptions(),
    });
    apps.push(web);
    const callers = web.app.get(Callers);
    const discovery = web.app.get(ConsulDiscoveryService);
    for (const service of ['api', 'greeter']) {
      await eventually(async () => (await discovery.getInstances(service, { connect: true })).length === 1, {
        what: `a passing Connect instance of ${service}`,
        timeoutMs: 20_000,
      });
    }

    // Which of web's leaves each server saw, by serial, and when it first saw one it had not seen.
    const seen = { http: new Map<string, number>(), grpc: new Map<string, number>() };
    const firstSeenAt = new Map<string, number>();
    const saw = (protocol: 'http' | 'grpc', serial: string) => {
      seen[protocol].set(serial, (seen[protocol].get(serial) ?? 0) + 1);
      if (!firstSeenAt.has(serial)) firstSeenAt.set(serial, Date.now());
    };
    let n = 0;
    const http = steadyLoad({
      perSecond: PER_SECOND,
      durationMs: LOAD_MS,
      // Every 25th call ends its connection: new ones open all along, with whatever web holds then.
      call: async () =>
        saw('http', (await callers.api.get<{ serial: string }>(n++ % 25 ? '/caller' : '/caller?close=1')).serial),
    });
    const grpcLoad = steadyLoad({
      perSecond: PER_SECOND,
      durationMs: LOAD_MS,
      call: async () => saw('grpc', (await firstValueFrom(callers.greeter.hello({ name: 'web' }))).message),
    });
    const loadStartedAt = Date.now();

    await new Promise((resolve) => setTimeout(resolve, ROTATE_AT_MS));
    const webLeavesBefore = new Set(firstSeenAt.keys());
    const { putAt, newRoot } = await rotateConnectCa(agent);
    const rootsActiveMs = Date.now() - putAt;
    const [apiNewLeafMs, greeterNewLeafMs] = await Promise.all([
      eventually(
        () =>
          httpsGet(api.port, '/health', { ca: [newRoot] }).then(
            (answer) => answer.status === 200 && Date.now() - putAt,
          ),
        { intervalMs: 100, timeoutMs: LOAD_MS, what: 'api serving a leaf of the new root' },
      ),
      eventually(() => greeterPresents(greeter.port, newRoot).then((ok) => ok && Date.now() - putAt), {
        intervalMs: 100,
        timeoutMs: LOAD_MS,
        what: 'greeter serving a leaf of the new root',
      }),
    ]);
    const [httpCalls, grpcCalls] = await Promise.all([http.done, grpcLoad.done]);
    const loadEndedAt = loadStartedAt + LOAD_MS;
    const webNewLeaf = [...firstSeenAt].find(([serial]) => !webLeavesBefore.has(serial));

    report(`Connect CA rotation under ${PER_SECOND} calls/s over HTTP and over gRPC for ${LOAD_MS / 1000} s`, {
      httpCalls: httpCalls.length,
      httpFailed: httpCalls.filter((call) => call.error).length,
      grpcCalls: grpcCalls.length,
      grpcFailed: grpcCalls.filter((call) => call.error).length,
      newRootActiveMs: rootsActiveMs,
      apiNewLeafMs,
      greeterNewLeafMs,
      webNewLeafSeenMs: webNewLeaf ? webNewLeaf[1] - putAt : -1,
      webLeavesSeenOverHttp: seen.http.size,
      webLeavesSeenOverGrpc: seen.grpc.size,
    });
    expect(failureSummary(httpCalls)).toEqual({});
    expect(failureSummary(grpcCalls)).toEqual({});
    expect(httpCalls).toHaveLength((PER_SECOND * LOAD_MS) / 1000);
    expect(grpcCalls).toHaveLength((PER_SECOND * LOAD_MS) / 1000);
    // Both servers had moved to the new root while the load still ran, and web's new leaf reached
    // both on new connections.
    expect(putAt + Math.max(apiNewLeafMs, greeterNewLeafMs)).toBeLessThan(loadEndedAt);
    expect(webNewLeaf).toBeDefined();
    expect(webNewLeaf![1]).toBeLessThan(loadEndedAt);
    expect(seen.http.size).toBe(2);
    expect(seen.grpc.size).toBe(2);
  }, 120_000);
});
