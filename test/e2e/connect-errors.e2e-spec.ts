import { Controller, Get } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ConsulConnectError, consulConnectHttpsOptions } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import type { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, listenFailure, startHttpApp } from '../helpers/consul-app.js';
import { connectPeer, httpsGet, createIntention } from '../helpers/connect-peer.js';

@Controller()
class HelloController {
  @Get('hello')
  hello() {
    return 'hello';
  }
}

/** An app "api" with Connect native against `agent` (not listening yet). */
async function connectApp(agent: ConsulAgent, token?: string) {
  return startHttpApp(
    consulOptions(agent, {
      consul: token ? { token } : {},
      service: { name: 'api' },
      connect: { native: true },
    }),
    { controllers: [HelloController], httpsOptions: consulConnectHttpsOptions(), listen: false },
  );
}

async function tokenWith(agent: ConsulAgent, rules: string): Promise<string> {
  const policy = (await (
    await agent.api('/v1/acl/policy', { method: 'PUT', body: JSON.stringify({ Name: randomUUID(), Rules: rules }) })
  ).json()) as { ID: string };
  const token = (await (
    await agent.api('/v1/acl/token', { method: 'PUT', body: JSON.stringify({ Policies: [{ ID: policy.ID }] }) })
  ).json()) as { SecretID: string };
  return token.SecretID;
}

describe('Connect native against an agent with Connect off', () => {
  const suite = useConsulAgent({ hcl: ['connect { enabled = false }'] });

  it('fails the start with a ConsulConnectError naming the service and the fix', async () => {
    const started = await connectApp(suite.agent);
    suite.apps.push(started);
    const failure = await listenFailure(started.app);
    expect(failure).toBeInstanceOf(ConsulConnectError);
    expect((failure as ConsulConnectError).service).toBe('api');
    expect(failure!.message).toMatch(/Consul Connect is off on the agent at .*"api".*connect \{ enabled = true \}/);
    expect(await suite.agent.health('api')).toEqual([]);
  });
});

describe('Connect native with ACLs (default deny)', () => {
  const master = randomUUID();
  const suite = useConsulAgent({ aclMasterToken: master });

  it('fails the start, naming the policy, when the token may not get the certificate', async () => {
    const readOnly = await tokenWith(suite.agent, 'service "api" { policy = "read" }');
    const started = await connectApp(suite.agent, readOnly);
    suite.apps.push(started);
    const failure = await listenFailure(started.app);
    expect(failure).toBeInstanceOf(ConsulConnectError);
    expect(failure!.message).toContain('may not get a Connect certificate for "api"');
    expect(failure!.message).toContain('service "api" { policy = "write" }');
    expect(failure!.message).not.toContain(readOnly);
  });

  it('with service:write, serves, and admits a caller only once an allow intention exists', async () => {
    const token = await tokenWith(
      suite.agent,
      'service "api" { policy = "write" }\nnode_prefix "" { policy = "read" }',
    );
    const started = await connectApp(suite.agent, token);
    suite.apps.push(started);
    await started.app.listen(0, '127.0.0.1');
    const port = (started.app.getHttpServer().address() as { port: number }).port;
    const web = await connectPeer(suite.agent, 'web');

    // Default deny: no intention, no call.
    const denied = await httpsGet(port, '/hello', web);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body).message).toContain('"web" may not call "api"');

    await createIntention(suite.agent, 'web', 'api', 'allow');
    const start = Date.now();
    let answer = await httpsGet(port, '/hello', web);
    while (answer.status !== 200 && Date.now() - start < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      answer = await httpsGet(port, '/hello', web);
    }
    expect(answer.status).toBe(200);
    // The app's token reads the intentions it is the destination of: the watch does not fail.
    expect(started.logger.text).not.toMatch(/Watch of the Connect intentions failed/);
    expect(started.logger.text).not.toContain(token);
  });
});
