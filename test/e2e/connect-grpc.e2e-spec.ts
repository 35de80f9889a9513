import { Injectable, Module } from '@nestjs/common';
import { type ClientGrpc, Transport } from '@nestjs/microservices';
import { readFileSync } from 'node:fs';
import { firstValueFrom } from 'rxjs';
import {
  ConsulConnect,
  consulConnectHttpsOptions,
  ConsulConnectError,
  ConsulModule,
  ConsulService,
} from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { makeCertificates } from '../helpers/certificates.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { type Greeter, GreeterController, HELLO_PROTO } from '../helpers/consul-microservice.js';
import { CapturingLogger } from '../helpers/capturing-logger.js';
import { connectPeer, createIntention, deleteIntention } from '../helpers/connect-peer.js';
import { startConnectGrpcServer } from '../helpers/connect-grpc-server.js';
import { eventually } from '../helpers/eventually.js';
import { GRPC_HEALTH_PROTO_PATH } from '../../lib/registration/grpc-health.js';

type GrpcJs = typeof import('@grpc/grpc-js');
type CallError = Error & { code?: number; details?: string };

const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;

/** What Greeter/Hello answered, or the error it ended with. */
async function hello(client: ClientGrpc, name = 'web'): Promise<string | CallError> {
  try {
    return (await firstValueFrom(client.getService<Greeter>('Greeter').hello({ name }))).message;
  } catch (error) {
    return error as CallError;
  }
}

describe('Connect native over gRPC (real Consul agent)', () => {
  const suite = useConsulAgent();
  let grpc: GrpcJs;
  let GreeterClient: new (target: string, credentials: unknown) => Record<string, Function>;
  let HealthClient: new (target: string, credentials: unknown) => Record<string, Function>;

  beforeAll(async () => {
    grpc = await import('@grpc/grpc-js');
    const loader = await import('@grpc/proto-loader');
    const load = (path: string) => grpc.loadPackageDefinition(loader.loadSync(path, { enums: Number })) as any;
    GreeterClient = load(HELLO_PROTO).hello.Greeter;
    HealthClient = load(GRPC_HEALTH_PROTO_PATH).grpc.health.v1.Health;
  });

  /** The Connect-native gRPC microservice "greeter": credentials from ConsulConnect, a grpc check. */
  async function startGreeter(): Promise<{ port: number; logger: CapturingLogger }> {
    const greeter = await startConnectGrpcServer(suite.agent, 'greeter', [GreeterController]);
    suite.apps.push(greeter);
    return greeter;
  }

  /** The app "web" (Connect native itself) calling `service` over Connect with a typed gRPC client. */
  async function startWeb(service = 'greeter'): Promise<TestApp & { client: ClientGrpc }> {
    @Injectable()
    class Caller {
      constructor(@ConsulService(service) readonly client: ClientGrpc) {}
    }
    @Module({
      imports: [
        ConsulModule.forFeature([
          { service, transport: Transport.GRPC, options: { package: 'hello', protoPath: HELLO_PROTO, connect: true } },
        ]),
      ],
      providers: [Caller],
      exports: [Caller],
    })
    class CallerModule {}
    const started = await startHttpApp(
      consulOptions(suite.agent, { service: { name: 'web' }, connect: { native: true } }),
      { imports: [CallerModule], httpsOptions: consulConnectHttpsOptions() },
    );
    suite.apps.push(started);
    return { ...started, client: started.app.get(Caller).client };
  }

  /** One Greeter/Hello call by a bare grpc-js client with `credentials`. */
  function rawHello(port: number, credentials: unknown): Promise<CallError | string> {
    const client = new GreeterClient(`127.0.0.1:${port}`, credentials);
    return new Promise<CallError | string>((resolve) =>
      client.Hello({ name: 'raw' }, { deadline: Date.now() + 3_000 }, (error: CallError | null, answer: any) =>
        resolve(error ?? answer.message),
      ),
    ).finally(() => client.close());
  }

  it("registers Connect native with Consul's gRPC check passing over TLS, and a Connect client calls it", async () => {
    const { port } = await startGreeter();
    const entry = await eventually(
      async () => {
        const [found] = await suite.agent.health('greeter');
        const ran = found?.Checks.find((check) => check.ServiceID === found.Service.ID);
        return ran?.Status === 'passing' && ran.Output.includes(`gRPC check 127.0.0.1:${port}: success`) && found;
      },
      { what: "greeter's gRPC check run by Consul over TLS and passing" },
    );
    const registered = await suite.agent.json(`/v1/agent/service/${entry.Service.ID}`);
    expect(registered.Connect).toEqual({ Native: true });

    const web = await startWeb();
    expect(await hello(web.client)).toBe('hello web');
  });

  it('refuses a plaintext client, and a TLS client with a certificate of another CA; Health/Check alone is open', async () => {
    const { port } = await startGreeter();
    const web = await connectPeer(suite.agent, 'web');
    const roots = Buffer.from(web.ca.join('\n'));
    const anyName = { checkServerIdentity: () => undefined };

    const plain = await rawHello(port, grpc.credentials.createInsecure());
    expect(plain).toBeInstanceOf(Error);
    expect((plain as CallError).code).not.toBe(0);

    const foreign = makeCertificates();
    const stranger = await rawHello(
      port,
      grpc.credentials.createSsl(
        roots,
        readFileSync(foreign.file('dc1-client-consul-0-key.pem')),
        readFileSync(foreign.file('dc1-client-consul-0.pem')),
        anyName,
      ),
    );
    expect((stranger as CallError).code).toBe(UNAUTHENTICATED);
    expect((stranger as CallError).details).toContain("Consul Connect: no client certificate from this mesh's CA");

    const anonymous = await rawHello(port, grpc.credentials.createSsl(roots, null, null, anyName));
    expect((anonymous as CallError).code).toBe(UNAUTHENTICATED);

    // The agent's check has no certificate either: Health/Check answers it.
    const health = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createSsl(roots, null, null, anyName));
    const status = await new Promise((resolve) =>
      health.Check({ service: '' }, (error: Error | null, answer: { status: number }) =>
        resolve(error ?? answer.status),
      ),
    ).finally(() => health.close());
    expect(status).toBe(1); // SERVING

    // A caller of the mesh with the right certificate is admitted by the same server.
    const admitted = await rawHello(
      port,
      grpc.credentials.createSsl(roots, Buffer.from(web.key), Buffer.from(web.cert), anyName),
    );
    expect(admitted).toBe('hello raw');
  });

  it('follows the intentions: a deny gives PERMISSION_DENIED within a second, and its deletion lets calls through', async () => {
    const { logger } = await startGreeter();
    const web = await startWeb();
    expect(await hello(web.client)).toBe('hello web'); // the decision is now cached

    const put = Date.now();
    const id = await createIntention(suite.agent, 'web', 'greeter', 'deny');
    const refused = await eventually(
      async () => {
        const answer = await hello(web.client);
        return answer instanceof Error && { answer, after: Date.now() - put };
      },
      { intervalMs: 10, timeoutMs: 5_000, what: 'web refused after the deny' },
    );
    console.log(`Connect gRPC: deny intention to PERMISSION_DENIED in ${refused.after} ms`);
    expect(refused.answer.code).toBe(PERMISSION_DENIED);
    expect(refused.answer.details).toMatch(/^Consul Connect: "web" may not call "greeter": .*DENY/);
    expect(refused.after).toBeLessThanOrEqual(1_000);
    // Nest's Logger is one per process: the line goes to the logger of the app created last (web's).
    const warnings = [...logger.find('WARN', 'ConsulConnect'), ...web.logger.find('WARN', 'ConsulConnect')];
    expect(warnings.filter((line) => line.includes('Refused a Connect call from "web" to "greeter"'))).toHaveLength(1);

    await deleteIntention(suite.agent, id);
    await eventually(async () => (await hello(web.client)) === 'hello web', {
      intervalMs: 10,
      what: 'web admitted after the deny is deleted',
    });
  });

  it("refuses a server presenting another service's identity, naming both", async () => {
    // A server registered as "vault" with Connect native, but holding the leaf of "other".
    const other = await connectPeer(suite.agent, 'other');
    const server = new grpc.Server();
    server.addService((GreeterClient as unknown as { service: any }).service, {
      Hello: (_call: unknown, callback: (error: null, answer: { message: string }) => void) =>
        callback(null, { message: 'impostor' }),
    });
    const credentials = grpc.ServerCredentials.createSsl(
      Buffer.from(other.ca.join('\n')),
      [{ cert_chain: Buffer.from(other.cert), private_key: Buffer.from(other.key) }],
      false,
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    suite.apps.push({ app: { close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) } });
    await suite.agent.register({
      ID: 'vault-1',
      Name: 'vault',
      Address: '127.0.0.1',
      Port: port,
      Connect: { Native: true },
      Check: { TTL: '60s', Status: 'passing' },
    });
    try {
      const web = await startWeb('vault');
      const answer = await hello(web.client);
      expect(answer).toBeInstanceOf(Error);
      const message = (answer as CallError).details ?? (answer as CallError).message;
      expect(message).toMatch(/expected spiffe:\/\/[^/]+\.consul\/ns\/default\/dc\/\*\/svc\/vault/);
      expect(message).toMatch(/presented spiffe:\/\/[^/]+\.consul\/ns\/default\/dc\/dc1\/svc\/other/);
    } finally {
      await suite.agent.deregister('vault-1');
    }
  });

  it('names the unknown service asked for server credentials', async () => {
    const { app } = await startHttpApp(
      consulOptions(suite.agent, { service: { name: 'web' }, connect: { native: true } }),
      { httpsOptions: consulConnectHttpsOptions(), listen: false },
    );
    suite.apps.push({ app });
    expect(() => app.get(ConsulConnect).grpcServerCredentials('nobody')).toThrow(ConsulConnectError);
    expect(() => app.get(ConsulConnect).grpcServerCredentials('nobody')).toThrow(
      /"nobody" is not a service of this app/,
    );
  });
});
