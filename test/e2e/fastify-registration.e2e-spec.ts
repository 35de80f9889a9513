import { Controller, Get, RequestMethod } from '@nestjs/common';
import { ConsulRegistrar } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import type { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp } from '../helpers/consul-app.js';
import { eventually } from '../helpers/eventually.js';
import { FastifyAppProcess } from '../helpers/fastify-app-process.js';
import { serviceCheck, serviceCheckPassing } from '../helpers/service-checks.js';

async function get(port: number, path: string): Promise<{ code: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await res.text();
  const json = res.headers.get('content-type')?.includes('json');
  return { code: res.status, body: json ? JSON.parse(text) : text };
}

/**
 * The app (test/fixtures/fastify-app.mjs) runs in its own process with `setGlobalPrefix('api')`, URI
 * versioning and shutdown hooks, so `app.close()` is what SIGTERM sets off in production.
 */
describe('Fastify app behind setGlobalPrefix and URI versioning (real Consul agent)', () => {
  const suite = useConsulAgent();
  const apps: FastifyAppProcess[] = [];
  let agent: ConsulAgent;
  beforeAll(() => (agent = suite.agent));
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
  });

  async function start(name: string): Promise<FastifyAppProcess> {
    const app = await FastifyAppProcess.start(agent, name);
    apps.push(app);
    return app;
  }

  it('registers after listen(0) with the real port, Consul checks /health at the root, the app answers under /api/v1', async () => {
    const { port } = await start('fastify_api');

    const check = await serviceCheckPassing(agent, 'fastify_api', 'fastify_api passing, as Consul ran its check');
    const [entry] = await agent.health('fastify_api');
    expect(entry.Service.Address).toBe('127.0.0.1');
    expect(entry.Service.Port).toBe(port);
    expect(check.Output).toContain(`HTTP GET http://127.0.0.1:${port}/health: 200`);

    expect(await get(port, '/health')).toMatchObject({
      code: 200,
      body: { status: 'ok', info: { switch: { status: 'up' } } },
    });
    // Neither the prefix nor the version moves it.
    expect((await get(port, '/api/health')).code).toBe(404);
    expect((await get(port, '/api/v1/health')).code).toBe(404);
    expect(await get(port, '/api/v1/users/42')).toEqual({ code: 200, body: { id: '42' } });
    expect((await get(port, '/users/42')).code).toBe(404);
  });

  it('turns the Consul check critical when a Terminus indicator fails, and passing again when it recovers', async () => {
    const { port } = await start('fastify_switchy');
    await serviceCheckPassing(agent, 'fastify_switchy', 'passing');
    const status = async () => (await serviceCheck(agent, 'fastify_switchy'))?.Status;

    await fetch(`http://127.0.0.1:${port}/api/v1/switch/down`, { method: 'PUT' });
    await eventually(async () => (await status()) === 'critical', { what: 'critical' });
    expect(await get(port, '/health')).toMatchObject({
      code: 503,
      body: { status: 'error', error: { switch: { status: 'down', reason: 'switched off' } } },
    });

    await fetch(`http://127.0.0.1:${port}/api/v1/switch/up`, { method: 'PUT' });
    await eventually(async () => (await status()) === 'passing', { what: 'passing again' });
  });

  it('on SIGTERM (app.close()) answers 503 shutting_down while draining, then leaves the catalog', async () => {
    const app = await start('fastify_leaving'); // registration.drainDelay: 1s
    await serviceCheckPassing(agent, 'fastify_leaving', 'passing');

    const stopped = app.stop();
    const draining = await eventually(
      async () => {
        const answer = await get(app.port, '/health');
        return answer.code === 503 && answer;
      },
      { what: '/health to answer 503 during the drain', intervalMs: 50, timeoutMs: 1_000 },
    );
    expect(draining.body).toMatchObject({ status: 'shutting_down' });
    // Still in the catalog while it drains, in maintenance: discovery stops returning it.
    const during = await agent.health('fastify_leaving');
    expect(during).toHaveLength(1);
    expect(during[0].Checks.map((c) => c.CheckID)).toContain(`_service_maintenance:${during[0].Service.ID}`);

    expect(await stopped).toBe('SIGTERM'); // Nest's own re-raise once the hooks ran, not our SIGKILL
    expect(await agent.health('fastify_leaving')).toEqual([]);
    expect(app.log).toMatch(/Deregistered service "fastify_leaving"/);
  });
});

@Controller()
class ExcludedController {
  @Get('status')
  status() {
    return { where: 'root' };
  }

  @Get('items')
  items() {
    return { where: 'api' };
  }
}

describe('Express app behind setGlobalPrefix with exclusions (real Consul agent)', () => {
  const suite = useConsulAgent();

  it('serves /health at the root, registers it in Consul, and leaves the prefix and its exclusions as the app set them', async () => {
    const started = await startHttpApp(consulOptions(suite.agent, { service: { name: 'express_prefixed' } }), {
      controllers: [ExcludedController],
      configure: (app) => app.setGlobalPrefix('api', { exclude: [{ path: 'status', method: RequestMethod.GET }] }),
    });
    suite.apps.push(started);
    const { port } = started;

    const check = await serviceCheckPassing(suite.agent, 'express_prefixed', 'express_prefixed passing');
    const [entry] = await suite.agent.health('express_prefixed');
    expect(entry.Service.Port).toBe(port);
    expect(check.Output).toContain(`HTTP GET http://127.0.0.1:${port}/health: 200`);
    await started.app.get(ConsulRegistrar).whenRegistered();

    expect(await get(port, '/health')).toEqual({ code: 200, body: { status: 'ok', info: {}, error: {}, details: {} } });
    expect((await get(port, '/api/health')).code).toBe(404);
    expect(await get(port, '/status')).toEqual({ code: 200, body: { where: 'root' } });
    expect(await get(port, '/api/items')).toEqual({ code: 200, body: { where: 'api' } });
    expect((await get(port, '/items')).code).toBe(404);
  });
});
