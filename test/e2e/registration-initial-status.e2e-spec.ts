import { ConsulRegistrar } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import type { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp } from '../helpers/consul-app.js';
import { createMicroservice, GreeterController, grpcTransport, tcpTransport } from '../helpers/consul-microservice.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-ports.js';

/**
 * Consul runs a new check after a random stagger of up to its interval (10 s here): registered with
 * Consul's default status, a healthy instance stays critical, undiscoverable, until then.
 */
describe('discoverable at once: the check is registered with the status the app has (real Consul agent)', () => {
  const suite = useConsulAgent();
  const { apps } = suite;
  let agent: ConsulAgent;
  beforeAll(() => (agent = suite.agent));

  /** The service's check as the catalog first shows it after registration, and when. */
  async function firstSeen(service: string) {
    return eventually(
      async () => {
        const checks = await agent.json<Array<{ ServiceID: string; Status: string }>>(`/v1/health/checks/${service}`);
        const check = checks.find((c) => c.ServiceID);
        return check && { status: check.Status, at: Date.now() };
      },
      { timeoutMs: 5_000, intervalMs: 10, what: `${service} in the catalog` },
    );
  }

  async function measure(service: string, listen: () => Promise<unknown>, registrar: () => ConsulRegistrar) {
    const listenedAt = Date.now();
    await listen();
    await registrar().whenRegistered();
    const seen = await firstSeen(service);
    const ms = seen.at - listenedAt;
    process.stdout.write(`${service}: listen() → ${seen.status} in the catalog after ${ms} ms (interval 10s)\n`);
    return { ...seen, ms };
  }

  it('HTTP: passing on the first read, within 1.5 s of listen()', async () => {
    const started = await startHttpApp(
      consulOptions(agent, { service: { name: 'quick_http', check: { interval: '10s' } } }),
      { listen: false },
    );
    apps.push(started);
    const seen = await measure(
      'quick_http',
      () => started.app.listen(0, '127.0.0.1'),
      () => started.app.get(ConsulRegistrar),
    );
    expect(seen.status).toBe('passing');
    expect(seen.ms).toBeLessThan(1_500);
  });

  it('HTTP with a failing indicator: registered critical, never passing', async () => {
    const started = await startHttpApp(
      consulOptions(agent, {
        service: { name: 'sick_http', check: { interval: '10s' } },
        health: { indicators: [async () => ({ db: { status: 'down' } })] },
      }),
      { listen: false },
    );
    apps.push(started);
    const seen = await measure(
      'sick_http',
      () => started.app.listen(0, '127.0.0.1'),
      () => started.app.get(ConsulRegistrar),
    );
    expect(seen.status).toBe('critical');
    expect(started.logger.find('LOG', 'ConsulRegistrar').join('\n')).toMatch(/Registered .*\(http check, critical\)/);
  });

  it('TCP: passing on the first read, within 1.5 s of listen()', async () => {
    const port = await freePort();
    const ms = await createMicroservice(
      consulOptions(agent, { service: { name: 'quick_tcp', port, check: { interval: '10s' } } }),
      tcpTransport(port),
    );
    apps.push(ms);
    const seen = await measure(
      'quick_tcp',
      () => ms.app.listen(),
      () => ms.app.get(ConsulRegistrar),
    );
    expect(seen.status).toBe('passing');
    expect(seen.ms).toBeLessThan(1_500);
  });

  it('gRPC: passing on the first read, within 1.5 s of listen()', async () => {
    const port = await freePort();
    const ms = await createMicroservice(
      consulOptions(agent, { service: { name: 'quick_grpc', port, check: { type: 'grpc', interval: '10s' } } }),
      grpcTransport(port),
      [GreeterController],
    );
    apps.push(ms);
    const seen = await measure(
      'quick_grpc',
      () => ms.app.listen(),
      () => ms.app.get(ConsulRegistrar),
    );
    expect(seen.status).toBe('passing');
    expect(seen.ms).toBeLessThan(1_500);
  });

  it('TTL: passing within 1.5 s of listen() (the first heartbeat follows the registration at once)', async () => {
    const started = await startHttpApp(
      consulOptions(agent, { service: { name: 'quick_ttl', check: { type: 'ttl', ttl: '15s' } } }),
      { listen: false },
    );
    apps.push(started);
    const listenedAt = Date.now();
    await started.app.listen(0, '127.0.0.1');
    await started.app.get(ConsulRegistrar).whenRegistered();
    const at = await eventually(
      async () => {
        const checks = await agent.json<Array<{ ServiceID: string; Status: string }>>('/v1/health/checks/quick_ttl');
        return checks.find((c) => c.ServiceID)?.Status === 'passing' && Date.now();
      },
      { timeoutMs: 5_000, intervalMs: 10, what: 'quick_ttl passing' },
    );
    process.stdout.write(`quick_ttl: listen() → passing in the catalog after ${at - listenedAt} ms\n`);
    expect(at - listenedAt).toBeLessThan(1_500);
  });
});
