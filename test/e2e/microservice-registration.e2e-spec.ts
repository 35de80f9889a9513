import { ConsulOptionsError, GrpcServingStatus } from '../../lib/index.js';
import { GRPC_HEALTH_PROTO_PATH } from '../../lib/registration/grpc-health.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import type { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions } from '../helpers/consul-app.js';
import { createMicroservice, GreeterController, grpcTransport, tcpTransport } from '../helpers/consul-microservice.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-ports.js';
import { serviceCheckPassing } from '../helpers/service-checks.js';

describe('microservice registration (real Consul agent)', () => {
  const suite = useConsulAgent();
  const { apps } = suite;
  let agent: ConsulAgent;
  beforeAll(() => (agent = suite.agent));

  it('registers a TCP microservice with a passing TCP check on its port (the default for microservices)', async () => {
    const port = await freePort();
    const ms = await createMicroservice(
      consulOptions(agent, { service: { name: 'orders', port } }),
      tcpTransport(port),
    );
    apps.push(ms);
    await ms.app.listen();

    const check = await serviceCheckPassing(agent, 'orders', 'orders TCP check passing');
    expect(check.Output).toContain(`TCP connect 127.0.0.1:${port}: Success`);
    const [entry] = await agent.health('orders');
    expect(entry.Service.Port).toBe(port);
  });

  it('registers a gRPC microservice with a passing Consul GRPC check against grpc.health.v1', async () => {
    const port = await freePort();
    const ms = await createMicroservice(
      consulOptions(agent, { service: { name: 'user_service', port, tags: ['user'], check: { type: 'grpc' } } }),
      grpcTransport(port),
      [GreeterController],
    );
    apps.push(ms);
    await ms.app.listen();

    const check = await serviceCheckPassing(agent, 'user_service', 'user_service gRPC check passing');
    expect(check.Output).toBe(`gRPC check 127.0.0.1:${port}: success`);
  });

  it('streams grpc.health.v1 Watch: the status now, then each change; SERVICE_UNKNOWN for another service; Check of another service is NOT_FOUND', async () => {
    const port = await freePort();
    let up = true;
    const ms = await createMicroservice(
      consulOptions(agent, {
        service: { name: 'watched_service', port, check: { type: 'grpc' } },
        health: { indicators: [async () => ({ db: { status: up ? 'up' : 'down' } })] },
      }),
      grpcTransport(port),
      [GreeterController],
    );
    apps.push(ms);
    await ms.app.listen();

    const grpc = await import('@grpc/grpc-js');
    const loader = await import('@grpc/proto-loader');
    const definition = loader.loadSync(GRPC_HEALTH_PROTO_PATH, { enums: Number });
    const { Health } = (grpc.loadPackageDefinition(definition).grpc as any).health.v1;
    const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const statuses: number[] = [];
    const unknown: number[] = [];
    const stream = client.Watch({ service: '' });
    stream.on('data', ({ status }: { status: number }) => statuses.push(status));
    stream.on('error', () => undefined); // cancelled below
    const other = client.Watch({ service: 'nobody' });
    other.on('data', ({ status }: { status: number }) => unknown.push(status));
    other.on('error', () => undefined);
    try {
      await eventually(() => statuses.length === 1, { what: 'the first status' });
      expect(statuses).toEqual([GrpcServingStatus.SERVING]);
      up = false;
      await eventually(() => statuses.length === 2, { timeoutMs: 12_000, what: 'NOT_SERVING on the stream' });
      expect(statuses).toEqual([GrpcServingStatus.SERVING, GrpcServingStatus.NOT_SERVING]);
      expect(unknown).toEqual([GrpcServingStatus.SERVICE_UNKNOWN]);
      const checked = await new Promise<{ code?: number; details?: string }>((resolve) =>
        client.Check({ service: 'nobody' }, (error: { code: number; details: string } | null) => resolve(error ?? {})),
      );
      expect(checked).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'unknown service "nobody"' });
    } finally {
      stream.cancel();
      other.cancel();
      client.close();
    }
  });

  it('reports NOT_SERVING through gRPC health when a Terminus indicator is down, so the check goes critical', async () => {
    const port = await freePort();
    const ms = await createMicroservice(
      consulOptions(agent, {
        service: { name: 'sick_service', port, check: { type: 'grpc' } },
        health: { indicators: [async () => ({ db: { status: 'down' } })] },
      }),
      grpcTransport(port),
      [GreeterController],
    );
    apps.push(ms);
    await ms.app.listen();

    const check = await eventually(
      async () => {
        const c = await agent.localCheck('sick_service');
        return c?.Status === 'critical' && c.Output !== '' && c; // new checks start critical with no output
      },
      { what: 'sick_service gRPC check NOT_SERVING' },
    );
    // Consul 1.8's wording for a NOT_SERVING answer (an unserved health service would say Unimplemented).
    expect(check.Output).toBe("gRPC application didn't report service healthy");
  });

  it('refuses to register a grpc check when the gRPC server does not serve grpc.health.v1, and says how to fix it', async () => {
    const port = await freePort();
    const ms = await createMicroservice(
      consulOptions(agent, { service: { name: 'no_health', port, check: { type: 'grpc' } } }),
      grpcTransport(port, { health: false }),
      [GreeterController],
    );
    apps.push(ms);
    await ms.app.listen();

    const error = await eventually(() => ms.logger.find('ERROR', 'ConsulRegistrar')[0], { what: 'an error log line' });
    expect(error).toContain('does not serve grpc.health.v1.Health');
    expect(error).toContain('withGrpcHealth');
    expect(await agent.health('no_health')).toEqual([]);
  });

  it('rejects an http check in a microservice-only app at bootstrap, naming the option', async () => {
    const port = await freePort();
    const ms = await createMicroservice(
      consulOptions(agent, { service: { name: 'wrong_check', port, check: { type: 'http' } } }),
      tcpTransport(port),
    );
    apps.push(ms);
    const failure = ms.app.listen().then(
      () => undefined,
      (error: unknown) => error,
    );
    const error = await failure;
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as Error).message).toContain('service.check.type: "http" needs an HTTP server');
    expect(await agent.health('wrong_check')).toEqual([]);
  });

  it('requires service.port in a microservice-only app', async () => {
    const port = await freePort();
    const ms = await createMicroservice(consulOptions(agent, { service: { name: 'portless' } }), tcpTransport(port));
    apps.push(ms);
    const error = await ms.app.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain('service.port: is required in a microservice-only app');
    expect(await agent.health('portless')).toEqual([]);
  });
});
