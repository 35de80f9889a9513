import { ConsulOptionsError } from '../../lib/index.js';
import { resolveConsulOptions } from '../../lib/core/consul-module.options.js';
import { keyProblem } from '../../lib/options/lock-key.js';
import { stepDownAfter } from '../../lib/locks/consul-session.js';

function problems(locks: unknown): string[] {
  try {
    resolveConsulOptions({ locks } as never);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConsulOptionsError);
    return (error as ConsulOptionsError).problems.map((p) => `${p.option}: ${p.problem}${p.fix ? ` (${p.fix})` : ''}`);
  }
}

describe('locks options', () => {
  it('defaults: prefix under the service, TTL 10s renewed at 5s, lock-delay 500ms, liveness check TTL 2s', () => {
    expect(resolveConsulOptions({ service: { name: 'user_service' } }).locks).toEqual({
      prefix: 'locks/user_service',
      sessionTtlMs: 10_000,
      renewIntervalMs: 5_000,
      lockDelayMs: 500,
      livenessTtlMs: 2_000,
      waitMs: 300_000,
    });
    expect(resolveConsulOptions({}).locks.prefix).toBe('locks');
    expect(resolveConsulOptions({ locks: { sessionTtl: '1m' } }).locks.renewIntervalMs).toBe(30_000);
    expect(resolveConsulOptions({ locks: { livenessTtl: false } }).locks.livenessTtlMs).toBeUndefined();
  });

  it('names the option, the value and the fix for every problem at once', () => {
    expect(
      problems({ sessionTtl: '9s', lockDelay: '2m', renewInterval: '20s', wait: '11m', prefix: 'a//b', ttl: '10s' }),
    ).toEqual([
      'locks.ttl: is not an option (the options here are locks.prefix, locks.sessionTtl, locks.renewInterval, locks.lockDelay, locks.livenessTtl, locks.wait)',
      'locks.prefix: "a//b" has an empty segment ("//") (use a KV path like "locks/my_service")',
      `locks.sessionTtl: "9s" is outside Consul's session TTL range of 10s to 24h (use a duration from "10s" to "24h")`,
      `locks.renewInterval: "20s" is not shorter than sessionTtl (10s) (use half of sessionTtl ("5s") or leave it out)`,
      `locks.lockDelay: "2m" is outside Consul's range of 0s to 60s`,
      `locks.wait: "11m" is longer than Consul's maximum of 10m`,
    ]);
    expect(problems({ sessionTtl: '25h' })[0]).toMatch(/locks\.sessionTtl: "25h" is outside/);
    expect(problems({ sessionTTL: '10s' })).toEqual([
      'locks.sessionTTL: is not an option (did you mean locks.sessionTtl?)',
    ]);
    expect(problems({ lockDelay: '0s', sessionTtl: '24h' })).toEqual([]);
    expect(problems({ livenessTtl: '500ms' })).toEqual([
      'locks.livenessTtl: "500ms" is outside 1s to 60s (use a duration like "2s", or false for no liveness check)',
    ]);
    expect(problems({ livenessTtl: '2m' })[0]).toMatch(/locks\.livenessTtl: "2m" is outside 1s to 60s/);
    expect(problems({ livenessTtl: true })[0]).toMatch(/^locks\.livenessTtl: /);
  });

  it('keys: relative KV paths only', () => {
    for (const good of ['job', 'jobs/nightly-report', 'a.b:c@d']) expect(keyProblem(good)).toBeUndefined();
    for (const bad of ['', '/a', 'a/', 'a//b', 'a/../b', './a', 'a b', 'a\u0000b', 'x'.repeat(513), 42]) {
      expect(keyProblem(bad)).toEqual(expect.any(String));
    }
  });

  it('steps down before Consul may expire the session: TTL − max(1 s, TTL/10)', () => {
    expect(stepDownAfter(10_000)).toBe(9_000);
    expect(stepDownAfter(60_000)).toBe(54_000);
  });
});
