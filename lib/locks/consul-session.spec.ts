import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { SessionDefinition } from '../consul-api/consul-api.types.js';
import { ConsulRequestError } from '../consul-api/consul-request.error.js';
import { resolveConsulOptions } from '../core/consul-module.options.js';
import type { ConsulInstanceIdentity } from '../core/instance-identity.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';
import { ConsulSessionManager, type SessionApi } from './consul-session.js';

/**
 * Our calls to Consul's session endpoints, answered by the test. Each renewal waits for
 * `renewals.answer(...)` unless `renewWith` answers it at once.
 */
class FakeSessionApi implements SessionApi {
  readonly created: SessionDefinition[] = [];
  readonly destroyed: string[] = [];
  /** Every renewal: which session, its timeout, and when it was sent (fake time). */
  readonly renewals: Array<{ id: string; timeoutMs?: number; at: number }> = [];
  /** How renewals are answered; undefined: they wait for `answerRenewal()`. */
  renewWith?: () => Promise<boolean>;
  private pending?: { resolve: (known: boolean) => void; reject: (error: unknown) => void };

  createSession = async (definition: SessionDefinition): Promise<string> => {
    this.created.push(definition);
    return `session-${this.created.length}`;
  };

  renewSession = (id: string, timeoutMs?: number): Promise<boolean> => {
    this.renewals.push({ id, timeoutMs, at: Date.now() });
    if (this.renewWith) return this.renewWith();
    return new Promise((resolve, reject) => (this.pending = { resolve, reject }));
  };

  destroySession = async (id: string): Promise<void> => {
    this.destroyed.push(id);
  };

  updateTtlCheck = async (): Promise<boolean> => true;

  answerRenewal(known: boolean): void {
    this.pending!.resolve(known);
    this.pending = undefined;
  }
}

/** An app without a registered service: the session depends on serfHealth only (no liveness check). */
const unregistered: ConsulInstanceIdentity = {
  instanceId: undefined,
  instanceAddress: undefined,
  checkId: undefined,
  isRegistered: false,
  whenRegistered: () => Promise.resolve(),
  attachCheck: () => Promise.resolve(),
};

const unreachable = new ConsulRequestError('renew session "x"', 'http://127.0.0.1:8500', undefined, 'ECONNREFUSED');

describe('ConsulSessionManager', () => {
  // TTL 10 s: renewed every 5 s (TTL/2), stepped down 9 s (TTL − max(1 s, TTL/10)) after the last renewal sent.
  const options = resolveConsulOptions({ locks: { sessionTtl: '10s' } });
  let api: FakeSessionApi;
  let sessions: ConsulSessionManager;
  let warnings: string[];

  beforeEach(() => {
    jest.useFakeTimers();
    warnings = [];
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    api = new FakeSessionApi();
    sessions = new ConsulSessionManager(options, api, unregistered, new ConsulMetrics());
  });
  afterEach(async () => {
    await sessions.onModuleDestroy();
    expect(jest.getTimerCount()).toBe(0);
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('creates one session on first use and shares it', async () => {
    const [a, b] = await Promise.all([sessions.session(), sessions.session()]);
    expect(a).toBe(b);
    expect(await sessions.session()).toBe(a);
    expect(api.created).toEqual([
      { Name: 'nestjs-consul-kit', TTL: '10s', LockDelay: '500ms', Behavior: 'release', Checks: ['serfHealth'] },
    ]);
  });

  it('renews every renewInterval (TTL/2), each renewal ending by the step-down deadline', async () => {
    api.renewWith = () => Promise.resolve(true);
    const lease = await sessions.session();
    const start = Date.now();
    await jest.advanceTimersByTimeAsync(4_999);
    expect(api.renewals).toEqual([]);
    await jest.advanceTimersByTimeAsync(25_001);
    expect(api.renewals.map((r) => r.at - start)).toEqual([5_000, 10_000, 15_000, 20_000, 25_000, 30_000]);
    // consul.timeout is 5 s, but 4 s are left of the lease when a renewal is sent: an answer after that changes nothing.
    expect(new Set(api.renewals.map((r) => r.timeoutMs))).toEqual(new Set([4_000]));
    expect(lease.valid).toBe(true);
    expect(lease.signal.aborted).toBe(false);
  });

  it('loses the session when a renewal hears Consul no longer knows it: held signals abort, the next use creates another', async () => {
    const lease = await sessions.session();
    const held = sessions.heldSignal(lease, new AbortController().signal);
    await jest.advanceTimersByTimeAsync(5_000);
    api.answerRenewal(false);
    await jest.advanceTimersByTimeAsync(0);
    expect(held.aborted).toBe(true);
    expect((held.reason as Error).message).toBe(
      'Session session-1 lost: Consul no longer knows it (expired, destroyed, or a check it depends on went critical)',
    );
    expect(warnings).toEqual([expect.stringContaining('Session session-1 lost')]);
    expect(api.destroyed).toEqual([]); // Consul has no such session to destroy
    expect((await sessions.session()).id).toBe('session-2');
  });

  it('steps down at the deadline while renewals fail, not later, retrying several times before it', async () => {
    api.renewWith = () => Promise.reject(unreachable);
    const lease = await sessions.session();
    const start = Date.now();
    const held = sessions.heldSignal(lease, new AbortController().signal);
    // Heard as an event (as a job listening for 'abort' does), not only at a read of `aborted`.
    let abortedAfter: number | undefined;
    held.addEventListener('abort', () => (abortedAfter = Date.now() - start));
    await jest.advanceTimersByTimeAsync(8_999);
    expect(abortedAfter).toBeUndefined();
    expect(api.renewals.length).toBeGreaterThanOrEqual(3);
    await jest.advanceTimersByTimeAsync(1);
    expect(abortedAfter).toBe(9_000);
    expect((held.reason as Error).message).toBe(
      'Session session-1 lost: could not renew it for 9s; stepping down before Consul may end the session (TTL 10s)',
    );
    // Stepped down: Consul is asked to free the keys now, if it can hear us.
    expect(api.destroyed).toEqual(['session-1']);
    const renewalsAtDeadline = api.renewals.length;
    await jest.advanceTimersByTimeAsync(10_000);
    expect(api.renewals).toHaveLength(renewalsAtDeadline);
  });

  it('sees the deadline at the first read after a pause, before the overdue timer has run', async () => {
    const lease = await sessions.session();
    const held = sessions.heldSignal(lease, new AbortController().signal);
    // The process slept through the deadline: the wall clock ran on, no timer has run yet.
    jest.setSystemTime(Date.now() + 9_001);
    expect(held.aborted).toBe(true);
    expect(lease.valid).toBe(false);
  });

  it('does not revive the lease with a renewal answered after the deadline', async () => {
    const lease = await sessions.session();
    await jest.advanceTimersByTimeAsync(5_000); // the renewal is sent, and its answer is slow
    expect(api.renewals).toHaveLength(1);
    jest.setSystemTime(Date.now() + 4_500); // paused past the deadline (9 s after creation), before the timer ran
    api.answerRenewal(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(lease.signal.aborted).toBe(true);
    expect(lease.valid).toBe(false);
    expect((await sessions.session()).id).toBe('session-2');
  });

  it('on shutdown releases what is held first, then destroys the session, and stops renewing', async () => {
    const order: string[] = [];
    const lease = await sessions.session();
    sessions.hold({ release: async () => void order.push(`release while destroyed: ${api.destroyed.join()}`) });
    const shutdown = sessions.onModuleDestroy();
    await jest.advanceTimersByTimeAsync(0);
    await shutdown;
    expect(order).toEqual(['release while destroyed: ']);
    expect(api.destroyed).toEqual(['session-1']);
    expect(lease.signal.aborted).toBe(true);
    expect((lease.signal.reason as Error).message).toBe('The app is shutting down');
    expect(jest.getTimerCount()).toBe(0);
    await expect(sessions.session()).rejects.toThrow('the app is shutting down; no new lock is taken');
  });
});
