import { type RecordingAgent, untilRecorded, useRecordingAgent } from '../../test/helpers/recording-agent.js';
import { ConsulKitError } from '../common/consul-kit.error.js';
import type { ConsulApi } from './consul-api.js';
import { blockingTimeout, filterLiteral, urlSegment, waitParam } from './consul-connection.js';
import { ConsulRequestError } from './consul-request.error.js';

/**
 * What ConsulConnection does on its own, over a recording agent on 127.0.0.1: the token, how an
 * answer becomes a body or a ConsulRequestError, timeouts, cancellation, reachability. The same
 * calls against a real agent are in test/e2e/consul-api.e2e-spec.ts.
 */
describe('ConsulConnection', () => {
  const token = 'c0ffee00-secret-acl-token-0000deadbeef';
  const suite = useRecordingAgent({ token });
  let agent: RecordingAgent;
  let api: ConsulApi;
  let warnings: string[];
  beforeEach(() => ({ agent, api, warnings } = suite));

  /** Every string an error carries: message, stack, own properties, its JSON. */
  const everythingIn = (error: unknown) => {
    const record = error as Record<string, unknown>;
    return [String(error), (error as Error).stack, JSON.stringify(error), ...Object.values(record).map(String)].join(
      '\n',
    );
  };

  describe('the ACL token', () => {
    it('goes as X-Consul-Token on the package calls and on the direct ones, never in the URL', async () => {
      agent.answer({ json: '127.0.0.1:8300' }, { json: [] });
      await api.leader();
      await api.kvTree('app/', { index: 0, waitMs: 0 });
      for (const request of agent.requests) {
        expect(request.headers['x-consul-token']).toBe(token);
        expect(request.url).not.toContain(token);
      }
      expect(agent.requests.map((r) => r.path)).toEqual(['/v1/status/leader', '/v1/kv/app/']);
    });

    it('is in no error of an answer: not in the message, the stack, or any property', async () => {
      agent.answer(
        { status: 403, text: 'Permission denied' },
        { status: 403, text: 'ACL not found' },
        { status: 500, text: 'rpc error making call: Permission denied' },
      );
      const errors = [
        await api.kvPut('app/a', 'x').catch((e: unknown) => e),
        await api.healthService({ service: 'web' }, { index: 0, waitMs: 0 }).catch((e: unknown) => e),
        await api.deregisterService('web-1').catch((e: unknown) => e),
      ];
      for (const error of errors) {
        expect(error).toBeInstanceOf(ConsulRequestError);
        expect(everythingIn(error)).not.toContain(token);
      }
      expect(errors.map((e) => (e as ConsulRequestError).forbidden)).toEqual([true, true, false]);
    });

    it('is in no error of an unreachable agent, nor in its warning', async () => {
      agent.answer({ hang: true }, { hang: true });
      const errors = [
        await api.leader(100).catch((e: unknown) => e),
        await api.registerService(definition, { timeoutMs: 100 }).catch((e: unknown) => e),
      ];
      for (const error of errors) {
        expect(error).toMatchObject({ unreachable: true });
        expect(everythingIn(error)).not.toContain(token);
      }
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).not.toContain(token);
    });
  });

  describe('an error status', () => {
    it("is a ConsulRequestError naming the action, the agent, Consul's words and the status", async () => {
      agent.answer(
        { status: 500, text: 'No cluster leader' },
        { status: 400, text: 'Invalid check: TTL must be > 0 for TTL checks' },
      );
      await expect(api.kvDelete('app/a')).rejects.toMatchObject({
        name: 'ConsulRequestError',
        action: 'delete the KV key "app/a"',
        agent: agent.address,
        statusCode: 500,
        reason: 'No cluster leader',
        message: `Consul at ${agent.address} could not delete the KV key "app/a": No cluster leader (HTTP 500)`,
      });
      await expect(api.registerService(definition)).rejects.toMatchObject({
        message:
          `Consul at ${agent.address} could not register service "web" (id "web-1"): ` +
          'Invalid check: TTL must be > 0 for TTL checks (HTTP 400)',
        unreachable: false,
      });
    });

    it('says "no reason given" for an empty body, through the package and through a direct call', async () => {
      agent.answer({ status: 502, text: '' }, { status: 502, text: '' });
      await expect(api.leader()).rejects.toThrow('could not report its leader: no reason given (HTTP 502)');
      await expect(api.kvTree('app/', { index: 0, waitMs: 0 })).rejects.toThrow(
        'could not read the KV prefix "app/": no reason given (HTTP 502)',
      );
    });

    it('keeps a long reason short', async () => {
      agent.answer({ status: 500, text: 'x'.repeat(1_000) });
      const error = (await api.leader().catch((e: unknown) => e)) as ConsulRequestError;
      expect(error.reason).toBe('x'.repeat(300));
    });

    it('is an answer when the call accepts it: the agent is there', async () => {
      // verifyToken accepts 401: ACLs are disabled, so any token will do.
      agent.answer({ status: 401, text: 'ACL support disabled' });
      await expect(api.verifyToken()).resolves.toBeUndefined();
      expect(agent.only().path).toBe('/v1/acl/token/self');
      agent.answer({ status: 403, text: 'ACL not found' });
      await expect(api.verifyToken()).rejects.toMatchObject({ forbidden: true });
    });

    it('counts an error status as the agent answering: an outage ends', async () => {
      agent.answer({ hang: true }, { status: 500, text: 'No cluster leader' });
      await api.leader(100).catch(() => undefined);
      expect(api.reachability.reachable).toBe(false);
      await api.leader().catch(() => undefined);
      expect(api.reachability.reachable).toBe(true);
    });
  });

  describe('timeouts and cancellation', () => {
    it('ends a request that gets no answer at timeoutMs, as unreachable, with one warning', async () => {
      agent.answer({ hang: true }, { hang: true });
      await expect(api.registerService(definition, { timeoutMs: 100 })).rejects.toMatchObject({
        unreachable: true,
        message: expect.stringContaining('could not register service "web" (id "web-1"): request timed out (100ms)'),
      });
      await expect(api.deregisterService('web-1', { timeoutMs: 100 })).rejects.toMatchObject({
        unreachable: true,
        message: expect.stringContaining('could not deregister service id "web-1": request timed out (100ms)'),
      });
      expect(api.reachability.reachable).toBe(false);
      expect(warnings).toEqual([expect.stringContaining('Retrying in the background')]);
    });

    it('ends a request when its signal aborts, without calling the agent unreachable or warning', async () => {
      agent.answer({ hang: true }, { hang: true });
      const stop = new AbortController();
      const calls = [
        api.registerService(definition, { signal: stop.signal }),
        api.deregisterService('web-1', { signal: stop.signal }),
      ];
      await untilRecorded(() => agent.requests.length === 2);
      stop.abort();
      for (const call of calls) await expect(call).rejects.toBeInstanceOf(ConsulRequestError);
      expect(api.reachability.reachable).toBe(true);
      expect(warnings).toEqual([]);
    });

    it('sends nothing for a signal already aborted', async () => {
      const calls = [
        api.registerService(definition, { signal: AbortSignal.abort() }),
        api.deregisterService('web-1', { signal: AbortSignal.abort() }),
      ];
      for (const call of calls) await expect(call).rejects.toBeInstanceOf(ConsulRequestError);
      expect(agent.requests).toEqual([]);
      expect(api.reachability.reachable).toBe(true);
    });

    it('keeps a quiet call (shutdown, failFast) out of the app-wide warning', async () => {
      agent.answer({ hang: true });
      await expect(api.deregisterService('web-1', { timeoutMs: 100, quiet: true })).rejects.toMatchObject({
        unreachable: true,
      });
      expect(api.reachability.reachable).toBe(true);
      expect(warnings).toEqual([]);
    });
  });

  describe('a body that is not what the call expects', () => {
    it("names what was expected and shows what came, for a proxy's error page or an odd JSON", async () => {
      agent.answer(
        { text: '<html><body>Bad gateway</body></html>', type: 'text/html' },
        { json: { error: 'not a list' } },
        { text: '[{"Node":', type: 'application/json' },
      );
      const read = () => api.healthService({ service: 'web' }, { index: 0, waitMs: 0 });
      await expect(read()).rejects.toThrow(
        'could not list instances of service "web": expected a JSON list, got a text/html answer: <html><body>Bad gateway</body></html> (HTTP 200)',
      );
      await expect(read()).rejects.toThrow('expected a JSON list, got {"error":"not a list"} (HTTP 200)');
      // Truncated JSON stays the bytes it was, as the package leaves it.
      await expect(read()).rejects.toThrow('expected a JSON list, got a application/json answer: [{"Node": (HTTP 200)');
    });
  });

  describe('helpers', () => {
    it('spells a filter literal with backticks, else double quotes, else not at all (Consul 1.8 knows no escapes)', () => {
      expect(filterLiteral('web-1')).toBe('`web-1`');
      expect(filterLiteral('say "hi"\\')).toBe('`say "hi"\\`');
      expect(filterLiteral('back`tick')).toBe('"back`tick"');
      expect(filterLiteral('back`tick "and" quotes')).toBeUndefined();
      expect(filterLiteral('back`tick\\backslash')).toBeUndefined();
    });

    it('escapes a path segment, and names what holds a lone surrogate instead of a URIError', () => {
      expect(urlSegment('a b/c?d#e', 'service name "x"')).toBe('a%20b%2Fc%3Fd%23e');
      const error = (() => {
        try {
          return urlSegment('bad\uD800name', 'service name "bad\uD800name"');
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConsulKitError);
      expect(error).not.toBeInstanceOf(URIError);
      expect((error as Error).message).toBe(
        'The service name "bad\uD800name" holds a lone UTF-16 surrogate, which no URL can carry: fix the name',
      );
    });

    it("gives a blocking read room for Consul's wait/16 jitter, and a wait in whole seconds", () => {
      expect(blockingTimeout(160_000, 5_000)).toBe(175_000);
      expect(waitParam(300_000)).toBe('300s');
      expect(waitParam(1_500)).toBe('2s');
    });
  });
});

const definition = {
  ID: 'web-1',
  Name: 'web',
  Address: '127.0.0.1',
  Port: 8080,
  Tags: [],
  Meta: {},
  EnableTagOverride: false,
  Checks: [],
};
