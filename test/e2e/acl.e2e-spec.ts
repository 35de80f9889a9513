import { randomUUID } from 'node:crypto';
import { ConsulHealthIndicator, ConsulUnavailableError } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import type { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, listenFailure, startHttpApp } from '../helpers/consul-app.js';
import { eventually } from '../helpers/eventually.js';
import { serviceCheckPassing } from '../helpers/service-checks.js';

describe('ACL default-deny agent (real Consul agent)', () => {
  const master = randomUUID();
  const suite = useConsulAgent({ aclMasterToken: master });
  const { apps } = suite;
  let agent: ConsulAgent;
  let appToken: string;

  beforeAll(async () => {
    agent = suite.agent;
    // The least a self-registering app needs: write its own service, read nodes (the README's policy).
    const policy = (await (
      await agent.api('/v1/acl/policy', {
        method: 'PUT',
        body: JSON.stringify({
          Name: 'secure-api',
          Rules: 'service "secure_api" { policy = "write" }\nnode_prefix "" { policy = "read" }',
        }),
      })
    ).json()) as { ID: string };
    const token = (await (
      await agent.api('/v1/acl/token', { method: 'PUT', body: JSON.stringify({ Policies: [{ ID: policy.ID }] }) })
    ).json()) as { SecretID: string };
    appToken = token.SecretID;
  });

  it('registers, heartbeats and deregisters with a token, which never appears in the logs', async () => {
    const started = await startHttpApp(
      consulOptions(agent, {
        consul: { token: appToken },
        service: { name: 'secure_api', check: { type: 'ttl', ttl: '3s' } },
      }),
    );
    await serviceCheckPassing(agent, 'secure_api', 'secure_api passing');
    const ping = await started.app.get(ConsulHealthIndicator).pingCheck('consul');
    expect(ping.consul.status).toBe('up');

    await started.app.close();
    expect(await agent.health('secure_api')).toEqual([]);
    expect(started.logger.text).toContain('Deregistered service "secure_api"');
    expect(started.logger.text).not.toContain(appToken);
  });

  it('without a token, says clearly that Consul refused and what token is needed; registers nothing', async () => {
    const started = await startHttpApp(consulOptions(agent, { service: { name: 'secure_api' } }));
    apps.push(started);
    const error = await eventually(() => started.logger.find('ERROR', 'ConsulRegistrar')[0], {
      what: 'a refusal logged',
    });
    expect(error).toMatch(
      /could not register service "secure_api".*Permission denied.*HTTP 403.*Set consul.token to an ACL token with service:write on "secure_api"/,
    );
    expect(await agent.health('secure_api')).toEqual([]);
  });

  it('with failFast and an unknown token, bootstrap rejects without echoing the token', async () => {
    const bogus = randomUUID();
    const started = await startHttpApp(
      consulOptions(agent, {
        consul: { token: bogus },
        service: { name: 'secure_api' },
        registration: { failFast: true },
      }),
      { listen: false },
    );
    apps.push(started);
    const error = (await listenFailure(started.app))!;
    expect(error).toBeInstanceOf(ConsulUnavailableError);
    expect(error.message).toMatch(/the ACL token in consul.token was refused \(ACL not found\)/);
    expect(error.message).not.toContain(bogus);
    expect(started.logger.text).not.toContain(bogus);
  });
});
