import { ConsulRegistrar } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp } from '../helpers/consul-app.js';
import { CountingHttpProxy } from '../helpers/counting-proxy.js';
import { createMicroservice, GreeterController, grpcTransport } from '../helpers/consul-microservice.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-ports.js';

describe('keeping the registration alive (real Consul agent)', () => {
  const suite = useConsulAgent();
  const { apps } = suite;
  let agent: ConsulAgent;
  beforeAll(() => (agent = suite.agent));

  it('notices within about two check intervals that the agent lost it, with reconcileInterval at its 30 s default', async () => {
    const own = await ConsulAgent.start(); // a dev agent: restarted, it comes back empty
    try {
      // No discovery, no config: nothing else talks to the agent, so no reconnect wakes the registrar.
      const started = await startHttpApp(
        consulOptions(own, { service: { name: 'amnesia', check: { interval: '1s' } } }),
      );
      apps.push(started);
      await started.app.get(ConsulRegistrar).whenRegistered();
      // Checked by Consul, and its output synced to the catalog (the registrar's one re-sync is behind us).
      const check = async () => (await own.health('amnesia'))[0]?.Checks.find((c) => c.ServiceID);
      await eventually(async () => (await check())?.Output.includes('HTTP GET'), { what: 'amnesia checked' });
      // Longer than 2 intervals + slack: only Consul's check calls keep the silence timer from having fired by now.
      await new Promise((resolve) => setTimeout(resolve, 3_500));

      await own.restart();
      const restartedAt = Date.now();
      expect(await own.health('amnesia')).toEqual([]);
      await eventually(async () => (await own.health('amnesia')).length === 1, {
        timeoutMs: 35_000,
        intervalMs: 50,
        what: 'amnesia registered again',
      });
      const ms = Date.now() - restartedAt;
      process.stdout.write(`agent state loss noticed and re-registered after ${ms} ms (check interval 1s)\n`);
      // Before: at the next reconcile tick, up to 30 s later.
      expect(ms).toBeLessThan(2 * 1_000 + 2_000);
      expect(
        started.logger.find('WARN', 'ConsulRegistrar').filter((line) => line.includes('no longer knows')),
      ).toHaveLength(1);
    } finally {
      await Promise.all(apps.splice(0).map(({ app }) => app.close()));
      await own.stop();
    }
  }, 60_000);

  it('notices it for a gRPC check too: Consul stops calling grpc.health.v1.Health/Check', async () => {
    const own = await ConsulAgent.start();
    try {
      const port = await freePort();
      const ms = await createMicroservice(
        consulOptions(own, { service: { name: 'amnesia_grpc', port, check: { type: 'grpc', interval: '1s' } } }),
        grpcTransport(port),
        [GreeterController],
      );
      apps.push(ms);
      await ms.app.listen();
      await ms.app.get(ConsulRegistrar).whenRegistered();
      const check = async () => (await own.health('amnesia_grpc'))[0]?.Checks.find((c) => c.ServiceID);
      await eventually(async () => (await check())?.Output.includes('gRPC check'), { what: 'amnesia_grpc checked' });
      // Longer than 2 intervals + slack: only Consul's check calls keep the silence timer from having fired by now.
      await new Promise((resolve) => setTimeout(resolve, 3_500));

      await own.restart();
      const restartedAt = Date.now();
      await eventually(async () => (await own.health('amnesia_grpc')).length === 1, {
        timeoutMs: 35_000,
        intervalMs: 50,
        what: 'amnesia_grpc registered again',
      });
      const elapsed = Date.now() - restartedAt;
      process.stdout.write(
        `gRPC: agent state loss noticed and re-registered after ${elapsed} ms (check interval 1s)\n`,
      );
      expect(elapsed).toBeLessThan(2 * 1_000 + 2_000);
    } finally {
      await Promise.all(apps.splice(0).map(({ app }) => app.close()));
      await own.stop();
    }
  }, 60_000);

  it('asks again after a backoff step when the reconcile read gets an HTTP 500, not a reconcile interval later', async () => {
    const proxy = await CountingHttpProxy.start(agent.httpPort);
    try {
      const started = await startHttpApp(
        consulOptions(agent, {
          consul: { port: proxy.port },
          service: { name: 'flaky_read' },
          registration: { reconcileInterval: '5s' }, // retry: 200 ms initial delay in tests
        }),
      );
      apps.push(started);
      const registrar = started.app.get(ConsulRegistrar);
      await registrar.whenRegistered();
      // ConsulApi reads one service as the agent's list filtered to its id.
      const path = '/v1/agent/services';
      proxy.forge(path, [{ status: 500, headers: { 'content-type': 'text/plain' }, body: 'forged failure' }]);

      await eventually(() => proxy.forgedLeft === 0, { timeoutMs: 8_000, intervalMs: 10, what: 'the forged 500' });
      const failedAt = Date.now();
      await eventually(() => proxy.count(path) >= 2, { timeoutMs: 8_000, intervalMs: 10, what: 'the next read' });
      const ms = Date.now() - failedAt;
      process.stdout.write(`reconcile read after a forged 500 retried after ${ms} ms (reconcileInterval 5s)\n`);
      expect(ms).toBeLessThan(1_500); // before: 5 s, the whole reconcile interval

      await eventually(() => started.logger.find('LOG', 'ConsulRegistrar').some((l) => l.includes('still has')), {
        what: 'the "still has" line',
      });
      expect(registrar.isRegistered).toBe(true);
      expect(started.logger.find('ERROR', 'ConsulRegistrar')).toEqual([]);
      expect(started.logger.find('WARN', 'ConsulRegistrar')).toEqual([
        expect.stringMatching(/could not read service id .*forged failure \(HTTP 500\); asking again in \d+ ms/),
      ]);
    } finally {
      await Promise.all(apps.splice(0).map(({ app }) => app.close()));
      await proxy.stop();
    }
  });
});
