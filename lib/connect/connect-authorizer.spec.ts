import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { ConsulApi } from '../consul-api/consul-api.js';
import { ConsulRequestError } from '../consul-api/consul-request.error.js';
import { resolveConsulOptions } from '../core/consul-module.options.js';
import { ConnectAuthorizer } from './connect-authorizer.js';

const WEB = 'spiffe://td.consul/ns/default/dc/dc1/svc/web';
const watch = resolveConsulOptions({}).discovery;

/** Our adapter's three calls the authorizer makes, answered by the test: the intentions' index blocks until moved. */
class FakeAgent implements Pick<ConsulApi, 'connectAuthorize' | 'connectIntentionsIndex' | 'reachability'> {
  authorizeCalls = 0;
  allowed = true;
  failing = false;
  private index = 5;
  private wake?: () => void;
  readonly reachability = { onReconnect: () => () => undefined } as unknown as ConsulApi['reachability'];

  connectAuthorize: ConsulApi['connectAuthorize'] = async (target, uri) => {
    this.authorizeCalls++;
    if (this.failing) throw new ConsulRequestError('authorize', 'http://127.0.0.1:8500', undefined, 'ECONNREFUSED');
    return { Authorized: this.allowed, Reason: `${this.allowed ? 'ALLOW' : 'DENY'} ${uri} => ${target}` };
  };

  connectIntentionsIndex: ConsulApi['connectIntentionsIndex'] = ({ index, signal }) => {
    if (index < this.index) return Promise.resolve({ index: this.index });
    return new Promise((resolve, reject) => {
      this.wake = () => resolve({ index: this.index });
      signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  };

  /** An intention was written: the index moves and the blocked read answers. */
  changeIntentions(): void {
    this.index++;
    this.wake?.();
  }
}

describe('ConnectAuthorizer', () => {
  let agent: FakeAgent;
  let authorizer: ConnectAuthorizer;

  beforeEach(async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    agent = new FakeAgent();
    authorizer = new ConnectAuthorizer(agent, 'api', watch, new Logger('test'));
    authorizer.start();
    await jest.advanceTimersByTimeAsync(0); // the intentions' first read
  });
  afterEach(() => {
    authorizer.stop();
    jest.useRealTimers();
  });

  it('asks the agent once per caller and answers later calls synchronously from the decision', async () => {
    const first = authorizer.decide(WEB, '0a');
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual({ allowed: true, caller: 'web', reason: `ALLOW ${WEB} => api` });
    const second = authorizer.decide(WEB, '0a');
    expect(second).toEqual({ allowed: true, caller: 'web', reason: `ALLOW ${WEB} => api` });
    expect(agent.authorizeCalls).toBe(1);
  });

  it('shares one question among callers that arrive while it is asked', async () => {
    const [a, b] = [authorizer.decide(WEB, '0a'), authorizer.decide(WEB, '0a')];
    await Promise.all([a, b]);
    expect(agent.authorizeCalls).toBe(1);
  });

  it('forgets every decision when the intentions change, and asks again', async () => {
    await authorizer.decide(WEB, '0a');
    agent.allowed = false;
    agent.changeIntentions();
    await jest.advanceTimersByTimeAsync(0);
    const after = await authorizer.decide(WEB, '0a');
    expect(after.allowed).toBe(false);
    expect(after.reason).toContain('DENY');
    expect(agent.authorizeCalls).toBe(2);
  });

  it('reuses a decision taken right after a change only briefly (the agent may still answer with the old intentions)', async () => {
    agent.changeIntentions();
    await jest.advanceTimersByTimeAsync(0);
    await authorizer.decide(WEB, '0a');
    await jest.advanceTimersByTimeAsync(150);
    await authorizer.decide(WEB, '0a');
    expect(agent.authorizeCalls).toBe(2);
    // Once the intentions have been quiet for a while, a decision lasts.
    await jest.advanceTimersByTimeAsync(2_000);
    await authorizer.decide(WEB, '0a');
    await jest.advanceTimersByTimeAsync(5_000);
    expect(authorizer.decide(WEB, '0a')).not.toBeInstanceOf(Promise);
    expect(agent.authorizeCalls).toBe(3);
  });

  it('fails closed when the agent cannot be asked, and asks again next time', async () => {
    agent.failing = true;
    const refused = await authorizer.decide(WEB, '0a');
    expect(refused).toMatchObject({ allowed: false, caller: 'web', unavailable: true });
    expect(refused.reason).toContain('could not ask Consul');
    agent.failing = false;
    expect(await authorizer.decide(WEB, '0a')).toMatchObject({ allowed: true });
    expect(agent.authorizeCalls).toBe(2);
  });

  it("keeps a known caller's last decision while the agent cannot be asked, with one warning; a new caller is refused as unavailable", async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const OTHER = 'spiffe://td.consul/ns/default/dc/dc1/svc/other';
    expect(await authorizer.decide(WEB, '0a')).toMatchObject({ allowed: true });
    agent.allowed = false;
    expect(await authorizer.decide(OTHER, '0c')).toMatchObject({ allowed: false, caller: 'other' });

    agent.failing = true;
    await jest.advanceTimersByTimeAsync(11_000); // both decisions due again
    expect(await authorizer.decide(WEB, '0a')).toMatchObject({ allowed: true, caller: 'web' });
    expect(await authorizer.decide(OTHER, '0c')).toMatchObject({ allowed: false, caller: 'other' });
    expect(await authorizer.decide('spiffe://td.consul/ns/default/dc/dc1/svc/new', '0d')).toMatchObject({
      allowed: false,
      unavailable: true,
    });
    await jest.advanceTimersByTimeAsync(11_000);
    expect(await authorizer.decide(WEB, '0a')).toMatchObject({ allowed: true });
    const kept = warn.mock.calls
      .map(([message]) => String(message))
      .filter((m) => m.includes('keeping its last decision'));
    expect(kept).toEqual([
      expect.stringMatching(
        /^Could not ask Consul whether "web" may call "api" \(.*ECONNREFUSED.*\); keeping its last decision \(allowed\)/,
      ),
      expect.stringMatching(/"other" may call "api" .*\(denied\)/),
    ]);

    // Back: the agent's answer counts again.
    agent.failing = false;
    await jest.advanceTimersByTimeAsync(11_000);
    expect(await authorizer.decide(WEB, '0a')).toMatchObject({ allowed: false });
    warn.mockRestore();
  });

  it('names a caller whose certificate names no service by its URI', async () => {
    const agentUri = 'spiffe://td.consul/agent/client/dc/dc1/id/node';
    expect((await authorizer.decide(agentUri, '0b')).caller).toBe(agentUri);
  });
});
