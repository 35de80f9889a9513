import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConsulRegistrar, ConsulUnavailableError } from '../../lib/index.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, listenFailure, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { eventually } from '../helpers/eventually.js';

const TTL_APP = fileURLToPath(new URL('../fixtures/ttl-app.mjs', import.meta.url));

describe('registration lifecycle and self-healing (real Consul agent)', () => {
  let agent: ConsulAgent;
  const apps: TestApp[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    agent = await ConsulAgent.start();
  });
  afterEach(async () => {
    children.splice(0).forEach((child) => child.exitCode === null && child.kill('SIGKILL'));
    await Promise.all(apps.splice(0).map(({ app }) => app.close()));
  });
  afterAll(async () => {
    await agent?.stop();
  });

  const statusOf = async (service: string) => (await agent.health(service))[0]?.Checks.find((c) => c.ServiceID)?.Status;

  it('heartbeats a TTL check to passing, and the check goes critical once the app stops heartbeating (crash)', async () => {
    const child = spawn(process.execPath, [TTL_APP, String(agent.httpPort), 'ttl_app'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));

    await eventually(async () => (await statusOf('ttl_app')) === 'passing', {
      what: `ttl_app passing (app output: ${output})`,
    });
    const [entry] = await agent.health('ttl_app');
    expect(entry.Checks.find((c) => c.ServiceID)!.Output).toContain('"status":"ok"');

    child.kill('SIGKILL'); // no shutdown hook runs: only the TTL can tell Consul
    await eventually(async () => (await statusOf('ttl_app')) === 'critical', {
      timeoutMs: 8_000,
      what: 'ttl_app critical',
    });
    await agent.api(`/v1/agent/service/deregister/${entry.Service.ID}`, { method: 'PUT' });
  });

  it('re-registers within 5 s when the agent restarts and forgets the service', async () => {
    const started = await startHttpApp(
      consulOptions(agent, { service: { name: 'survivor' }, registration: { reconcileInterval: '500ms' } }),
    );
    apps.push(started);
    await eventually(async () => (await agent.health('survivor')).length === 1, { what: 'survivor registered' });

    await agent.restart(); // a dev agent keeps no state
    // That the agent forgot is shown by the registrar's "no longer knows" line below: reading the
    // catalog here raced the app, which now re-registers within a second of the agent answering.
    const restartedAt = Date.now();
    await eventually(async () => (await agent.health('survivor')).length === 1, {
      timeoutMs: 5_000,
      what: 'survivor back',
    });
    const seconds = (Date.now() - restartedAt) / 1000;
    expect(seconds).toBeLessThan(5);

    const lines = started.logger.find('WARN', 'ConsulRegistrar');
    expect(lines.filter((line) => line.includes('no longer knows'))).toHaveLength(1);
  });

  it('boots while Consul is down and registers as soon as it starts', async () => {
    const late = await ConsulAgent.reserve();
    try {
      const started = await startHttpApp(
        consulOptions(late, {
          service: { name: 'early_bird' },
          registration: { retry: { initialDelay: '200ms', maxDelay: '500ms' } },
        }),
      );
      apps.push(started);
      await eventually(() => started.logger.find('WARN', 'ConsulApi').length > 0, {
        what: 'an unreachable warning',
      });
      expect(started.logger.find('WARN', 'ConsulApi')[0]).toMatch(
        new RegExp(`Consul at ${late.address} could not register service "early_bird".*ECONNREFUSED.*Retrying`),
      );

      await late.launch();
      // One backoff step is at most maxDelay (500 ms) after the agent is up.
      await eventually(async () => (await late.health('early_bird')).length === 1, {
        timeoutMs: 2_000,
        what: 'early_bird registered',
      });
      // One line when Consul was lost (for the whole app, none per retry), one when it was back.
      expect(started.logger.lines.filter((line) => line.startsWith('WARN'))).toHaveLength(1);
      await eventually(() => started.logger.find('LOG', 'ConsulApi').length === 1, { what: 'the "back" line' });
      expect(started.logger.find('LOG', 'ConsulApi')[0]).toMatch(/answers again after [\d.]+ s/);
    } finally {
      await Promise.all(apps.splice(0).map(({ app }) => app.close()));
      await late.stop();
    }
  });

  it('registers within a probe interval of Consul coming back, however long the backoff has grown', async () => {
    const late = await ConsulAgent.reserve();
    try {
      const started = await startHttpApp(
        consulOptions(late, {
          service: { name: 'patient' },
          registration: { retry: { initialDelay: '1s', maxDelay: '30s' } }, // the defaults
        }),
      );
      apps.push(started);
      // 15 s down: the registrar's backoff has reached 8–16 s between attempts.
      await new Promise((resolve) => setTimeout(resolve, 15_000));
      await late.launch();
      const launchedAt = Date.now();
      await eventually(async () => (await late.health('patient')).length === 1, {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: 'patient registered',
      });
      // The client probes the agent every second while it is away and wakes the registrar.
      expect(Date.now() - launchedAt).toBeLessThan(3_000);
    } finally {
      await Promise.all(apps.splice(0).map(({ app }) => app.close()));
      await late.stop();
    }
  }, 40_000);

  it('with failFast, bootstrap rejects with a message naming the Consul address and the cause', async () => {
    const nobody = await ConsulAgent.reserve();
    const started = await startHttpApp(
      consulOptions(nobody, { service: { name: 'strict' }, registration: { failFast: true } }),
      { listen: false },
    );
    apps.push(started);
    const error = await listenFailure(started.app);
    expect(error).toBeInstanceOf(ConsulUnavailableError);
    expect((error as Error).message).toContain(`Consul at ${nobody.address} is not usable`);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('finishes shutdown promptly with a warning when Consul is gone', async () => {
    const doomed = await ConsulAgent.start();
    const started = await startHttpApp(consulOptions(doomed, { service: { name: 'orphan' } }));
    await eventually(async () => (await doomed.health('orphan')).length === 1, { what: 'orphan registered' });
    await doomed.stop();

    const before = Date.now();
    await started.app.close();
    expect(Date.now() - before).toBeLessThan(2_000 + 500); // bounded by consul.timeout (2s in tests), refused at once here
    expect(started.logger.find('WARN', 'ConsulRegistrar').join('\n')).toMatch(
      /Could not deregister orphan-.*Consul removes it once its check has been critical for 1m/,
    );
  });

  it('gives manual control with registration.enabled: false', async () => {
    const started = await startHttpApp(
      consulOptions(agent, { service: { name: 'manual' }, registration: { enabled: false } }),
    );
    apps.push(started);
    const registrar = started.app.get(ConsulRegistrar);
    expect(await agent.health('manual')).toEqual([]);

    await registrar.register();
    expect((await agent.health('manual'))[0].Service.Port).toBe(started.port);

    await registrar.setMaintenance(true, 'deploying');
    const checks = (await agent.health('manual'))[0].Checks;
    expect(checks.some((c) => c.CheckID.startsWith('_service_maintenance') && c.Status === 'critical')).toBe(true);
    await registrar.setMaintenance(false);

    await registrar.deregister();
    expect(await agent.health('manual')).toEqual([]);
  });
});
