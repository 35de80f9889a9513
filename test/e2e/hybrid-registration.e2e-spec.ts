import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import {
  ConsulModule,
  type ConsulModuleOptions,
  ConsulRegistrar,
  ConsulStatusService,
  GrpcServingStatus,
} from '../../lib/index.js';
import { GRPC_HEALTH_PROTO_PATH } from '../../lib/registration/grpc-health.js';
import { defaultInstanceId } from '../../lib/registration/instance-id.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { CapturingLogger } from '../helpers/capturing-logger.js';
import type { ConsulAgent, HealthEntry } from '../helpers/consul-agent.js';
import { consulOptions, type TestApp } from '../helpers/consul-app.js';
import { GreeterController, grpcTransport } from '../helpers/consul-microservice.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-ports.js';

@Controller()
class HelloHttpController {
  @Get('/hello')
  hello() {
    return 'hello';
  }
}

/**
 * The README's hybrid app: an HTTP controller and a connected gRPC microservice (hello.Greeter plus
 * grpc.health.v1), `startAllMicroservices()` then `listen()`, one `ConsulModule.forRoot()`.
 */
async function startHybridApp(options: ConsulModuleOptions, grpcPort: number): Promise<TestApp> {
  @Module({ imports: [ConsulModule.forRoot(options)], controllers: [HelloHttpController, GreeterController] })
  class HybridModule {}
  const logger = new CapturingLogger();
  const app = await NestFactory.create(HybridModule, { logger, abortOnError: false });
  app.connectMicroservice<MicroserviceOptions>(grpcTransport(grpcPort), { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.listen(0, '127.0.0.1');
  return { app, logger, port: (app.getHttpServer().address() as { port: number }).port };
}

type Check = HealthEntry['Checks'][number];

/** The service's own check of the first catalog entry of `service`, once `accept` holds for it. */
function serviceCheckWhere(
  agent: ConsulAgent,
  service: string,
  accept: (check: Check) => boolean,
  what: string,
): Promise<Check> {
  return eventually(
    async () => {
      const check = (await agent.health(service))[0]?.Checks.find(
        (c) => c.ServiceID && c.CheckID.startsWith('service:'),
      );
      return check && accept(check) && check;
    },
    { what, timeoutMs: 15_000 },
  );
}

/** Consul has run the check (its output is set) and it passes. */
const ranAndPassing = (c: Check) => c.Status === 'passing' && c.Output !== '';

/** `grpc.health.v1.Health/Check` of `service` at 127.0.0.1:`port`, as a gRPC client (or load balancer) asks it. */
async function grpcHealth(port: number, service: string): Promise<number> {
  const grpc = await import('@grpc/grpc-js');
  const loader = await import('@grpc/proto-loader');
  const { Health } = (
    grpc.loadPackageDefinition(loader.loadSync(GRPC_HEALTH_PROTO_PATH, { enums: Number })).grpc as any
  ).health.v1;
  const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    return await new Promise<number>((resolve, reject) =>
      client.Check({ service }, (error: Error | null, response: { status: number }) =>
        error ? reject(error) : resolve(response.status),
      ),
    );
  } finally {
    client.close();
  }
}

describe('hybrid app registration: HTTP server and gRPC microservice as two services (real Consul agent)', () => {
  const suite = useConsulAgent();
  const { apps } = suite;
  let agent: ConsulAgent;
  beforeAll(() => (agent = suite.agent));

  /** Module options of the hybrid app: `hybrid_http` (main) and `hybrid_grpc` on `grpcPort` with a grpc check. */
  function hybridOptions(grpcPort: number, more: ConsulModuleOptions = {}): ConsulModuleOptions {
    return consulOptions(agent, {
      service: { name: 'hybrid_http', tags: ['http'] },
      microservices: [
        {
          name: 'hybrid_grpc',
          port: grpcPort,
          address: '127.0.0.1',
          tags: ['grpc'],
          check: { type: 'grpc', interval: '1s' },
        },
      ],
      ...more,
    });
  }

  it('registers the HTTP server with an HTTP check and the gRPC microservice with a gRPC check, each with its own id, address and port; a failing indicator turns both critical', async () => {
    const grpcPort = await freePort();
    let up = true;
    const started = await startHybridApp(
      hybridOptions(grpcPort, { health: { indicators: [async () => ({ db: { status: up ? 'up' : 'down' } })] } }),
      grpcPort,
    );
    apps.push(started);

    const httpCheck = await serviceCheckWhere(agent, 'hybrid_http', ranAndPassing, 'hybrid_http HTTP check passing');
    const grpcCheck = await serviceCheckWhere(agent, 'hybrid_grpc', ranAndPassing, 'hybrid_grpc gRPC check passing');
    expect(httpCheck.Output).toContain(`http://127.0.0.1:${started.port}/health`);
    expect(grpcCheck.Output).toBe(`gRPC check 127.0.0.1:${grpcPort}: success`);

    const [http] = await agent.health('hybrid_http');
    const [grpc] = await agent.health('hybrid_grpc');
    expect(http.Service).toMatchObject({
      ID: defaultInstanceId('hybrid_http', started.port),
      Address: '127.0.0.1',
      Port: started.port,
      Tags: ['http'],
    });
    expect(grpc.Service).toMatchObject({
      ID: defaultInstanceId('hybrid_grpc', grpcPort),
      Address: '127.0.0.1',
      Port: grpcPort,
      Tags: ['grpc'],
    });
    expect(http.Service.ID).not.toBe(grpc.Service.ID);

    // The health service answers for the whole server and under the microservice's registered name.
    expect(await grpcHealth(grpcPort, '')).toBe(GrpcServingStatus.SERVING);
    expect(await grpcHealth(grpcPort, 'hybrid_grpc')).toBe(GrpcServingStatus.SERVING);

    const { registration, services } = started.app.get(ConsulStatusService).snapshot();
    expect(registration).toMatchObject({ service: 'hybrid_http', state: 'registered' });
    expect(services).toEqual([
      expect.objectContaining({
        service: 'hybrid_http',
        instanceId: http.Service.ID,
        address: `127.0.0.1:${started.port}`,
        state: 'registered',
        registered: true,
      }),
      expect.objectContaining({
        service: 'hybrid_grpc',
        instanceId: grpc.Service.ID,
        address: `127.0.0.1:${grpcPort}`,
        state: 'registered',
        registered: true,
      }),
    ]);

    // One Terminus indicator decides both: the HTTP endpoint answers 503, gRPC health NOT_SERVING.
    up = false;
    await serviceCheckWhere(agent, 'hybrid_http', (c) => c.Status === 'critical', 'hybrid_http critical');
    await serviceCheckWhere(agent, 'hybrid_grpc', (c) => c.Status === 'critical', 'hybrid_grpc critical');
    expect(await grpcHealth(grpcPort, 'hybrid_grpc')).toBe(GrpcServingStatus.NOT_SERVING);
    up = true;
    await serviceCheckWhere(agent, 'hybrid_http', (c) => c.Status === 'passing', 'hybrid_http passing again');
    await serviceCheckWhere(agent, 'hybrid_grpc', (c) => c.Status === 'passing', 'hybrid_grpc passing again');
  });

  it('registers the gRPC microservice again when the agent forgets it, and leaves the HTTP one alone', async () => {
    const grpcPort = await freePort();
    // The reconcile read is 60 s away: only the gRPC check's calls stopping (while the HTTP check's go on)
    // can tell the app within the wait below.
    const started = await startHybridApp(
      hybridOptions(grpcPort, { registration: { reconcileInterval: '60s' } }),
      grpcPort,
    );
    apps.push(started);
    await serviceCheckWhere(agent, 'hybrid_http', ranAndPassing, 'hybrid_http passing');
    await serviceCheckWhere(agent, 'hybrid_grpc', ranAndPassing, 'hybrid_grpc passing');
    const grpcId = defaultInstanceId('hybrid_grpc', grpcPort);

    await agent.deregister(grpcId); // behind the app's back
    expect(await agent.health('hybrid_grpc')).toEqual([]);

    const forgotAt = Date.now();
    await eventually(async () => (await agent.health('hybrid_grpc'))[0]?.Service.ID === grpcId, {
      what: 'hybrid_grpc registered again',
      timeoutMs: 15_000,
    });
    console.log(
      `[hybrid] forgotten gRPC service registered again after ${Date.now() - forgotAt} ms (check interval 1s)`,
    );
    const warnings = started.logger.find('WARN', 'ConsulRegistrar').join('\n');
    expect(warnings).toContain(`The Consul agent no longer knows service "hybrid_grpc" (id ${grpcId})`);
    expect(warnings).not.toContain('no longer knows service "hybrid_http"');
    const services = started.app.get(ConsulStatusService).snapshot().services;
    expect(services.map((s) => [s.service, s.reregistrations])).toEqual([
      ['hybrid_http', 0],
      ['hybrid_grpc', 1],
    ]);
  });

  it('keeps the HTTP service registered when the gRPC one cannot be (no health service), and says which and why', async () => {
    const grpcPort = await freePort();
    @Module({
      imports: [ConsulModule.forRoot(hybridOptions(grpcPort))],
      controllers: [HelloHttpController, GreeterController],
    })
    class NoHealthModule {}
    const logger = new CapturingLogger();
    const app = await NestFactory.create(NoHealthModule, { logger, abortOnError: false });
    apps.push({ app });
    app.connectMicroservice<MicroserviceOptions>(grpcTransport(grpcPort, { health: false }));
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');

    const error = await eventually(() => logger.find('ERROR', 'ConsulRegistrar')[0], { what: 'an error log line' });
    expect(error).toContain('Not registering service "hybrid_grpc": microservices[0].check.type is "grpc"');
    expect(error).toContain('withGrpcHealth');
    await serviceCheckWhere(agent, 'hybrid_http', ranAndPassing, 'hybrid_http passing');
    expect(await agent.health('hybrid_grpc')).toEqual([]);
    const services = app.get(ConsulStatusService).snapshot().services;
    expect(services.map((s) => [s.service, s.registered])).toEqual([
      ['hybrid_http', true],
      ['hybrid_grpc', false],
    ]);
  });

  it('with registration.enabled: false, register(), setMaintenance() and deregister() act on every service', async () => {
    const grpcPort = await freePort();
    const started = await startHybridApp(hybridOptions(grpcPort, { registration: { enabled: false } }), grpcPort);
    apps.push(started);
    const registrar = started.app.get(ConsulRegistrar);
    expect(await agent.health('hybrid_http')).toEqual([]);
    expect(await agent.health('hybrid_grpc')).toEqual([]);

    await registrar.register();
    expect((await agent.health('hybrid_http'))[0].Service.Port).toBe(started.port);
    expect((await agent.health('hybrid_grpc'))[0].Service.Port).toBe(grpcPort);
    expect(registrar.instanceId).toBe(defaultInstanceId('hybrid_http', started.port)); // the main service's

    await registrar.setMaintenance(true, 'deploying');
    for (const name of ['hybrid_http', 'hybrid_grpc']) {
      const checks = (await agent.health(name))[0].Checks;
      expect(checks.some((c) => c.CheckID.startsWith('_service_maintenance') && c.Status === 'critical')).toBe(true);
    }
    await registrar.setMaintenance(false);

    await registrar.deregister();
    expect(await agent.health('hybrid_http')).toEqual([]);
    expect(await agent.health('hybrid_grpc')).toEqual([]);
  });

  it('on app.close() puts both in maintenance for the drain delay, then deregisters both', async () => {
    const grpcPort = await freePort();
    const started = await startHybridApp(hybridOptions(grpcPort, { registration: { drainDelay: '1500ms' } }), grpcPort);
    let closing: Promise<void> | undefined;
    const close = () => (closing ??= started.app.close());
    apps.push({ app: { close } }); // closed once, by the test or (on failure) after it
    await serviceCheckWhere(agent, 'hybrid_http', ranAndPassing, 'hybrid_http passing');
    await serviceCheckWhere(agent, 'hybrid_grpc', ranAndPassing, 'hybrid_grpc passing');

    const closed = close();
    try {
      const inMaintenance = async (name: string) =>
        (await agent.health(name))[0]?.Checks.some(
          (c) => c.CheckID.startsWith('_service_maintenance') && c.Status === 'critical',
        );
      await eventually(async () => (await inMaintenance('hybrid_http')) && (await inMaintenance('hybrid_grpc')), {
        what: 'both services in maintenance while draining',
      });
      // Draining: the gRPC server still answers (saying it is going away), and so does the HTTP one.
      expect(await grpcHealth(grpcPort, '')).toBe(GrpcServingStatus.NOT_SERVING);
      expect((await fetch(`http://127.0.0.1:${started.port}/hello`)).status).toBe(200);
    } finally {
      await closed;
    }
    expect(await agent.health('hybrid_http')).toEqual([]);
    expect(await agent.health('hybrid_grpc')).toEqual([]);
    const logs = started.logger.find('LOG', 'ConsulRegistrar').join('\n');
    expect(logs).toContain(`Deregistered service "hybrid_http" (id ${defaultInstanceId('hybrid_http', started.port)})`);
    expect(logs).toContain(`Deregistered service "hybrid_grpc" (id ${defaultInstanceId('hybrid_grpc', grpcPort)})`);
  });
});
