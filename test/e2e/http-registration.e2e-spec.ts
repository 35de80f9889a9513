import { Injectable, Module } from '@nestjs/common';
import { HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { ConsulModule, ConsulRegistrar } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import type { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp } from '../helpers/consul-app.js';
import { eventually } from '../helpers/eventually.js';

/** A health indicator the test can switch, as a database going away would. */
@Injectable()
class Switch {
  up = true;
  constructor(private readonly indicators: HealthIndicatorService) {}
  check = () =>
    this.up ? this.indicators.check('switch').up() : this.indicators.check('switch').down({ reason: 'switched off' });
}

@Module({ imports: [TerminusModule], providers: [Switch], exports: [Switch] })
class SwitchModule {}

describe('HTTP app registration (real Consul agent)', () => {
  const suite = useConsulAgent();
  const { apps } = suite;
  let agent: ConsulAgent;
  beforeAll(() => (agent = suite.agent));

  it('registers after listen(0) with the real port, tags, meta and a passing HTTP check', async () => {
    const started = await startHttpApp(
      consulOptions(agent, {
        service: {
          name: 'user_api',
          tags: ['user', 'v1'],
          meta: { version: '1.2.3' },
          weights: { passing: 3, warning: 1 },
        },
      }),
    );
    apps.push(started);
    const [entry] = await eventually(
      async () => {
        const entries = await agent.health('user_api');
        // Registered passing at once (the app's own health); Consul's output arrives with its first run.
        const ran = (c: { ServiceID: string; Status: string; Output: string }) =>
          c.ServiceID && c.Status === 'passing' && c.Output !== '';
        return entries.length === 1 && entries[0].Checks.some(ran) && entries;
      },
      { what: 'user_api to be registered and passing, checked by Consul' },
    );

    expect(entry.Service.ID).toBe(
      `user_api-${(await import('node:os')).hostname()}-${started.port}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-'),
    );
    expect(entry.Service.Address).toBe('127.0.0.1');
    expect(entry.Service.Port).toBe(started.port);
    expect(entry.Service.Tags).toEqual(['user', 'v1']);
    expect(entry.Service.Meta).toEqual({ version: '1.2.3' });
    expect(entry.Service.Weights).toEqual({ Passing: 3, Warning: 1 });
    const check = entry.Checks.find((c) => c.ServiceID === entry.Service.ID)!;
    expect(check.Output).toContain('HTTP GET http://127.0.0.1:' + started.port + '/health: 200');
  });

  it('says in one line what it registers: the address, which rule chose it, and the check', async () => {
    // No service.address: the server is bound to 127.0.0.1, so that is what is registered, and said.
    const started = await startHttpApp(consulOptions(agent, { service: { name: 'said_api', address: undefined } }));
    apps.push(started);
    await started.app.get(ConsulRegistrar).whenRegistered();
    expect(started.logger.find('LOG', 'ConsulRegistrar').filter((line) => line.includes('] Registering'))).toEqual([
      expect.stringMatching(
        new RegExp(
          `\\] Registering service "said_api" \\(id [^)]+\\) at 127\\.0\\.0\\.1:${started.port} ` +
            '\\(address: the address the HTTP server is bound to; http check on /health every 1s\\)$',
        ),
      ),
    ]);
  });

  it('turns the Consul check critical when a Terminus indicator fails, and passing again when it recovers', async () => {
    const started = await startHttpApp(
      ConsulModule.forRootAsync({
        imports: [SwitchModule],
        inject: [Switch],
        useFactory: (s: Switch) =>
          consulOptions(agent, { service: { name: 'switchy' }, health: { indicators: [s.check] } }),
      }),
    );
    apps.push(started);
    const toggle = started.app.get(Switch);
    const status = async () => (await agent.health('switchy'))[0]?.Checks.find((c) => c.ServiceID)?.Status;

    await eventually(async () => (await status()) === 'passing', { what: 'passing' });
    const res = await fetch(`http://127.0.0.1:${started.port}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', info: { switch: { status: 'up' } } });

    toggle.up = false;
    await eventually(async () => (await status()) === 'critical', { what: 'critical' });
    const down = await fetch(`http://127.0.0.1:${started.port}/health`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      status: 'error',
      error: { switch: { status: 'down', reason: 'switched off' } },
    });

    toggle.up = true;
    await eventually(async () => (await status()) === 'passing', { what: 'passing again' });
  });

  it('deregisters on app.close()', async () => {
    const started = await startHttpApp(consulOptions(agent, { service: { name: 'short_lived' } }));
    await eventually(async () => (await agent.health('short_lived')).length === 1, { what: 'registration' });
    await started.app.close();
    expect(await agent.health('short_lived')).toEqual([]);
    expect(started.logger.find('LOG', 'ConsulRegistrar').join('\n')).toMatch(/Deregistered service "short_lived"/);
  });
});
