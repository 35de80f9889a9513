import { HealthCheckService } from '@nestjs/terminus';
import { ConsulHealthService } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { consulOptions, startHttpApp } from '../helpers/consul-app.js';

/** Terminus is loaded the first time an indicator has to run, and the answers stay Terminus's. */
describe('The health check without indicators, then with one', () => {
  const suite = useConsulAgent();

  it('answers without loading Terminus, loads it for the first indicator, and says shutting_down while draining', async () => {
    const started = await startHttpApp(
      consulOptions(suite.agent, { service: { name: 'lazy_terminus' }, registration: { drainDelay: '1s' } }),
    );
    suite.apps.push(started);
    const { app, port } = started;
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      return { code: res.status, body: (await res.json()) as { status: string; error: Record<string, unknown> } };
    };

    expect(await health()).toEqual({ code: 200, body: { status: 'ok', info: {}, error: {}, details: {} } });
    expect(() => app.get(HealthCheckService, { strict: false })).toThrow(); // not in the app: not loaded

    app.get(ConsulHealthService).addIndicator(() => ({ disk: { status: 'down', free: 0 } }));
    // Terminus's own answer (its executor's summary), from the module loaded just now.
    expect(await health()).toMatchObject({ code: 503, body: { status: 'error', error: { disk: { status: 'down' } } } });

    // Shutdown: maintenance, then a 1 s drain during which the endpoint still answers.
    const closing = app.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await health()).toMatchObject({ code: 503, body: { status: 'shutting_down' } });
    await closing;
  });
});
