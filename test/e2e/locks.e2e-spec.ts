import { randomUUID } from 'node:crypto';
import {
  ConsulLockError,
  ConsulLockService,
  type ConsulModuleOptions,
  ConsulOptionsError,
  ConsulRegistrar,
} from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import type { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { CountingHttpProxy } from '../helpers/counting-proxy.js';
import { eventually } from '../helpers/eventually.js';

interface Session {
  ID: string;
  Name: string;
  NodeChecks: string[];
  Checks?: string[];
  TTL: string;
  LockDelay: number;
  Behavior: string;
}

async function sessions(agent: ConsulAgent): Promise<Session[]> {
  return (await (await agent.api('/v1/session/list')).json()) as Session[];
}

describe('ConsulLockService (real Consul agent)', () => {
  const suite = useConsulAgent();
  const { apps } = suite;

  async function app(overrides: ConsulModuleOptions = {}): Promise<TestApp> {
    const started = await startHttpApp(consulOptions(suite.agent, { locks: { prefix: 'locks/e2e' }, ...overrides }));
    apps.push(started);
    return started;
  }

  afterEach(async () => {
    // Every test leaves no session behind once its apps are closed.
    await Promise.all(apps.splice(0).map(({ app: a }) => a.close()));
    expect(await sessions(suite.agent)).toEqual([]);
  });

  it('gives a key to one app at a time; release hands it over at once, with a higher fencing token', async () => {
    const a = (await app()).app.get(ConsulLockService);
    const b = (await app()).app.get(ConsulLockService);
    const lockA = (await a.tryAcquire('job'))!;
    expect(lockA.isHeld).toBe(true);
    expect(await b.tryAcquire('job')).toBeUndefined();
    // Same app, same key: not re-entrant either.
    expect(await a.tryAcquire('job')).toBeUndefined();
    expect(await a.holder('job')).toEqual(expect.objectContaining({ pid: process.pid }));

    let acquiredAt = 0;
    const waiting = b.acquire('job').then((lock) => ((acquiredAt = performance.now()), lock));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(acquiredAt).toBe(0);
    const releasedAt = performance.now();
    await lockA.release();
    const lockB = await waiting;
    expect(lockA.signal.aborted).toBe(true);
    expect(lockB.fencingToken).toBeGreaterThan(lockA.fencingToken);
    // Blocking query on the key: the waiter hears the release at once (no lock-delay on release).
    expect(acquiredAt - releasedAt).toBeLessThan(200);
    await lockB.release();
  });

  it('withLock releases when fn throws; the session has TTL 10s, Behavior release, lock-delay 500ms and serfHealth', async () => {
    const locks = (await app()).app.get(ConsulLockService);
    await expect(
      locks.withLock('boom', (signal) => {
        expect(signal.aborted).toBe(false);
        throw new Error('fn failed');
      }),
    ).rejects.toThrow('fn failed');
    const [session] = await sessions(suite.agent);
    expect(session).toMatchObject({
      TTL: '10s',
      Behavior: 'release',
      NodeChecks: ['serfHealth'],
      LockDelay: 500_000_000,
    });
    const again = await locks.tryAcquire('boom');
    expect(again).toBeDefined();
    await again!.release();
  });

  it('ties the session to the app service check, and closing the app releases the lock to the waiter', async () => {
    const holder = await app({ service: { name: 'locker' } });
    const lock = await holder.app.get(ConsulLockService).acquire('handover');
    const [session] = await sessions(suite.agent);
    // Consul 1.8 lists the checks of a session created with `Checks` (as the package sends them) there.
    expect(session.Checks ?? session.NodeChecks).toEqual([
      'serfHealth',
      expect.stringMatching(/^service:locker-/),
      expect.stringMatching(/^locks:locker-/),
    ]);
    expect(session.Name).toMatch(/^locker \(locker-/);

    const otherApp = await app();
    const other = otherApp.app.get(ConsulLockService);
    const waiting = other.acquire('handover');
    const closedAt = performance.now();
    await holder.app.close();
    const next = await waiting;
    expect(performance.now() - closedAt).toBeLessThan(1_000);
    expect(lock.signal.aborted).toBe(true);
    expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
    // Nest's static logger writes to the app created last.
    const text = holder.logger.text + otherApp.logger.text;
    expect(text).toMatch(/Destroyed session/);
    // Locks released and session destroyed before the service was deregistered.
    expect(text.indexOf('Destroyed session')).toBeLessThan(text.indexOf('Deregistered'));
  });

  it('attaches a liveness check (TTL 2s) to the instance on the first lock, keeps it through re-registration, and loses the lock when it fails', async () => {
    const holder = await app({ service: { name: 'alive' } });
    const registrar = holder.app.get(ConsulRegistrar);
    const checkId = `locks:${registrar.instanceId}`;
    const agentChecks = async () =>
      (await (await suite.agent.api('/v1/agent/checks')).json()) as Record<
        string,
        { Status: string; ServiceID: string }
      >;
    // No lock yet: no liveness check.
    expect(Object.keys(await agentChecks())).not.toContain(checkId);

    const lock = await holder.app.get(ConsulLockService).acquire('alive');
    expect((await agentChecks())[checkId]).toMatchObject({ Status: 'passing', ServiceID: registrar.instanceId });
    // Registering the instance again (as the registrar does after the first check ran, or when the
    // agent forgot it) replaces its checks with the definition's: the liveness check is in it.
    await registrar.register();
    expect((await agentChecks())[checkId]).toMatchObject({ Status: 'passing' });
    expect(lock.isHeld).toBe(true);

    // The check going critical (as when the app stops passing it) ends the session at once.
    await suite.agent.api(`/v1/agent/check/fail/${encodeURIComponent(checkId)}?note=test`, { method: 'PUT' });
    await eventually(() => lock.signal.aborted, { intervalMs: 5, what: 'the lock aborted' });
    expect((lock.signal.reason as Error).message).toMatch(/lost/);
    // Consul ended the session itself (it is tied to the check), not only our view of the key.
    expect((await sessions(suite.agent)).map((s) => s.ID)).not.toContain(lock.sessionId);
  });

  it('a session Consul ends aborts the lock at once; acquire() then waits out the lock-delay with a new session', async () => {
    const locks = (await app()).app.get(ConsulLockService);
    const lock = await locks.acquire('invalidated');
    const destroyedAt = performance.now();
    await suite.agent.api(`/v1/session/destroy/${lock.sessionId}`, { method: 'PUT' });
    let abortedAt = performance.now();
    lock.signal.addEventListener('abort', () => (abortedAt = performance.now()), { once: true });
    await eventually(() => lock.signal.aborted, { intervalMs: 5, what: 'the lock aborted' });
    const abortedAfter = abortedAt - destroyedAt;
    expect(abortedAfter).toBeLessThan(500);
    expect(lock.isHeld).toBe(false);
    const again = await locks.acquire('invalidated');
    const reacquiredAfter = performance.now() - destroyedAt;
    expect(again.sessionId).not.toBe(lock.sessionId);
    expect(again.fencingToken).toBeGreaterThan(lock.fencingToken);
    // Consul's lock-delay (500ms) after the session ended, honoured, then taken within a retry.
    expect(reacquiredAfter).toBeGreaterThanOrEqual(450);
    expect(reacquiredAfter).toBeLessThan(2_000);
    await again.release();
  });

  it('rejects bad keys and options with errors naming them, and leaves no session behind', async () => {
    const locks = (await app()).app.get(ConsulLockService);
    for (const key of ['/abs', 'a//b', 'trailing/', '', 'with space', '../up']) {
      const error = await locks.acquire(key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConsulLockError);
      expect((error as Error).message).toContain(`Lock key ${JSON.stringify(key)}`);
    }
    const bad = async (locksOptions: unknown) =>
      startHttpApp(consulOptions(suite.agent, { locks: locksOptions as never }), { listen: false }).then(
        (started) => (apps.push(started), undefined),
        (error: unknown) => error as Error,
      );
    const short = await bad({ sessionTtl: '5s' });
    expect(short).toBeInstanceOf(ConsulOptionsError);
    expect(short!.message).toMatch(/locks\.sessionTtl.*"5s" is outside Consul's session TTL range of 10s to 24h/);
    expect((await bad({ sessionTtl: '25h' }))!.message).toMatch(/locks\.sessionTtl.*"25h"/);
    expect((await bad({ sessionTTL: '10s' }))!.message).toMatch(/locks\.sessionTTL.*did you mean locks\.sessionTtl/);
    expect((await bad({ prefix: '/locks/' }))!.message).toMatch(/locks\.prefix/);
    expect(await sessions(suite.agent)).toEqual([]);
  });
});

describe('Locks cost nothing unused (real Consul agent behind a counting proxy)', () => {
  const suite = useConsulAgent();

  it('an app that never takes a lock sends no session or KV request', async () => {
    const proxy = await CountingHttpProxy.start(suite.agent.httpPort);
    try {
      const started = await startHttpApp(
        consulOptions(suite.agent, { consul: { port: proxy.port }, service: { name: 'idle_locks' } }),
      );
      suite.apps.push(started);
      await eventually(async () => (await suite.agent.health('idle_locks'))[0], { what: 'registered' });
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await started.app.close();
      suite.apps.splice(0);
      expect(proxy.count('/v1/session')).toBe(0);
      expect(proxy.count('/v1/kv')).toBe(0);
      expect(proxy.requests.length).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
    }
  });
});

describe('Locks with a default-deny ACL agent (real Consul agent)', () => {
  const master = randomUUID();
  const suite = useConsulAgent({ aclMasterToken: master });
  let lockToken: string;
  let kvOnlyToken: string;

  async function token(rules: string): Promise<string> {
    const policy = (await (
      await suite.agent.api('/v1/acl/policy', {
        method: 'PUT',
        body: JSON.stringify({ Name: `p-${randomUUID()}`, Rules: rules }),
      })
    ).json()) as { ID: string };
    const created = (await (
      await suite.agent.api('/v1/acl/token', { method: 'PUT', body: JSON.stringify({ Policies: [{ ID: policy.ID }] }) })
    ).json()) as { SecretID: string };
    return created.SecretID;
  }

  beforeAll(async () => {
    // The minimal policy of docs/locks.md.
    lockToken = await token('session_prefix "" { policy = "write" }\nkey_prefix "locks/jobs" { policy = "write" }');
    kvOnlyToken = await token('key_prefix "locks/jobs" { policy = "write" }');
  });

  it('locks under the allowed prefix; a key it cannot write and a missing session right get clear errors', async () => {
    const started = await startHttpApp(
      consulOptions(suite.agent, { consul: { token: lockToken }, locks: { prefix: 'locks/jobs' } }),
    );
    suite.apps.push(started);
    const locks = started.app.get(ConsulLockService);
    const lock = await locks.acquire('nightly');
    expect(lock.fencingToken).toBeGreaterThan(0);
    await lock.release();

    const outside = await startHttpApp(
      consulOptions(suite.agent, { consul: { token: lockToken }, locks: { prefix: 'locks/other' } }),
    );
    suite.apps.push(outside);
    const denied = await outside.app
      .get(ConsulLockService)
      .acquire('nightly')
      .then(
        () => new Error('acquired'),
        (e: unknown) => e as Error,
      );
    expect(denied).toBeInstanceOf(ConsulLockError);
    expect(denied.message).toMatch(
      /Consul refused the lock on "locks\/other\/nightly".*Permission denied.*key_prefix "locks\/other" \{ policy = "write" \}/,
    );

    const noSession = await startHttpApp(
      consulOptions(suite.agent, { consul: { token: kvOnlyToken }, locks: { prefix: 'locks/jobs' } }),
    );
    suite.apps.push(noSession);
    const refused = await noSession.app
      .get(ConsulLockService)
      .tryAcquire('nightly')
      .then(
        () => new Error('acquired'),
        (e: unknown) => e as Error,
      );
    expect(refused).toBeInstanceOf(ConsulLockError);
    expect(refused.message).toMatch(/refused to create a session.*session_prefix "" \{ policy = "write" \}/);
    expect(started.logger.text + outside.logger.text).not.toContain(lockToken);

    await Promise.all(suite.apps.splice(0).map(({ app: a }) => a.close()));
    expect(await (await suite.agent.api('/v1/session/list')).json()).toEqual([]);
  });
});
