import { Injectable, Module } from '@nestjs/common';
import {
  ConsulConfigService,
  ConsulHttpClient,
  ConsulModule,
  ConsulRegistrar,
  ConsulService,
} from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, listenFailure, startHttpApp } from '../helpers/consul-app.js';
import { HttpUpstream } from '../helpers/http-upstream.js';
import { allChecksPassing } from '../helpers/service-checks.js';

@Injectable()
class WhoCaller {
  constructor(@ConsulService('who') readonly who: ConsulHttpClient) {}
}

@Module({
  imports: [ConsulModule.forFeature([{ service: 'who', transport: 'http' }])],
  providers: [WhoCaller],
})
class WhoCallerModule {}

describe('An app without a service: it discovers and reads configuration, and registers nothing', () => {
  const suite = useConsulAgent();

  it('calls a discovered service and reads its configuration; the agent has no service of it', async () => {
    const { agent } = suite;
    const upstream = await HttpUpstream.start(agent, 'who', 'who-1');
    await agent.api('/v1/kv/config/application/greeting', { method: 'PUT', body: 'hello' });
    await allChecksPassing(agent, 'who', 'who-1 passing');
    try {
      const started = await startHttpApp(consulOptions(agent, { config: { profiles: [] } }), {
        imports: [WhoCallerModule],
      });
      suite.apps.push(started);
      const { app, logger, port } = started;

      expect(await app.get(WhoCaller).who.get('/who')).toEqual({ name: 'who-1' });
      expect(app.get(ConsulConfigService).get('greeting')).toBe('hello');
      expect(Object.keys(await agent.json('/v1/agent/services'))).toEqual(['who-1']);
      // No health endpoint is mounted: there is no check to serve.
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(404);
      await expect(app.get(ConsulRegistrar).register()).rejects.toThrow(/there is no service to register/);

      await app.close();
      suite.apps.length = 0;
      expect(logger.lines.filter((line) => /^(WARN|ERROR)/.test(line))).toEqual([]);
    } finally {
      await upstream.close();
    }
  });

  it('boots with registration.failFast and no Consul: the preflight checks what registering needs', async () => {
    const nobody = await ConsulAgent.reserve();
    const started = await startHttpApp(consulOptions(nobody, { registration: { failFast: true } }), { listen: false });
    suite.apps.push(started);
    expect(await listenFailure(started.app)).toBeUndefined();
  });
});
