import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { AgentReachability } from '../consul-api/agent-reachability.js';
import type { RequestOptions } from '../consul-api/consul-api.js';
import type { AgentCheckDefinition, AgentService, AgentServiceRegistration } from '../consul-api/consul-api.types.js';
import { ConsulRequestError } from '../consul-api/consul-request.error.js';
import { resolveConsulOptions } from '../core/consul-module.options.js';
import { ConsulCheckPulse } from '../health/check-pulse.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';
import { type RegistrationApi, ServiceRegistration } from './service-registration.js';

/** Taken before the fake timers: waiting for the app's port to answer is real I/O. */
const realSetTimeout = globalThis.setTimeout;

/** Our calls to the agent, answered by an in-memory agent; a queued failure answers the next call of its kind. */
class FakeAgent implements RegistrationApi {
  readonly reachability = new AgentReachability({ logger: { log: () => undefined, warn: () => undefined } });
  readonly services = new Map<string, AgentServiceRegistration>();
  readonly calls: string[] = [];
  readonly registerFailures: Error[] = [];
  deregisterFailure?: Error;
  /** Registrations get no answer until cancelled, as when the agent is slow. */
  hang = false;

  registerService = async (definition: AgentServiceRegistration, options: RequestOptions = {}): Promise<void> => {
    this.calls.push(`register ${definition.ID}`);
    if (this.hang) {
      await new Promise((_, reject) =>
        options.signal?.addEventListener('abort', () => reject(refused('register (cancelled)')), { once: true }),
      );
    }
    const failure = this.registerFailures.shift();
    if (failure) throw failure;
    this.services.set(definition.ID, definition);
  };

  deregisterService = async (id: string): Promise<void> => {
    this.calls.push(`deregister ${id}`);
    if (this.deregisterFailure) throw this.deregisterFailure;
    this.services.delete(id);
  };

  setServiceMaintenance = async (id: string, enable: boolean): Promise<void> => {
    this.calls.push(`maintenance ${enable} ${id}`);
  };

  agentService = async (id: string): Promise<AgentService | undefined> => {
    const known = this.services.get(id);
    return known && { ID: id, Service: known.Name, Address: known.Address, Port: known.Port, Tags: [], Meta: {} };
  };

  updateTtlCheck = async (): Promise<boolean> => true;
}

const refused = (action: string) =>
  new ConsulRequestError(action, 'http://127.0.0.1:8500', 500, 'rpc error: No cluster leader');

describe('ServiceRegistration (the registrar state machine as it drives it)', () => {
  // The app's port: it must accept connections before the instance is registered.
  let app: Server;
  let port: number;
  beforeAll(async () => {
    app = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    port = (app.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => app.close(() => resolve())));

  let agent: FakeAgent;
  let lifetime: AbortController;
  let lines: string[];
  let attached: Map<string, AgentCheckDefinition>;

  beforeEach(() => {
    jest.useFakeTimers();
    agent = new FakeAgent();
    lifetime = new AbortController();
    lines = [];
    attached = new Map();
  });
  afterEach(() => {
    lifetime.abort();
    jest.useRealTimers();
  });

  function registration() {
    const options = resolveConsulOptions({
      service: { name: 'web', port, address: '127.0.0.1', check: { type: 'none' } },
      registration: { retry: { initialDelay: '1s', maxDelay: '1s' }, reconcileInterval: '30s', drainDelay: '2s' },
    });
    const logger = new Logger('test');
    for (const level of ['debug', 'log', 'warn', 'error'] as const) {
      logger[level] = (message: unknown) => void lines.push(`${level.toUpperCase()} ${String(message)}`);
    }
    const deps = {
      options,
      client: agent,
      health: { check: () => Promise.reject(new Error('a "none" check never asks the app')) },
      pulse: new ConsulCheckPulse(),
      metrics: new ConsulMetrics(),
      logger,
      lifetime: lifetime.signal,
    };
    return new ServiceRegistration(deps, options.service!, 'service', undefined, attached);
  }

  /** Waits (real time, bounded) for what follows real I/O: the port probe, then the first attempt. */
  async function until(done: () => boolean): Promise<void> {
    for (let i = 0; i < 400 && !done(); i++) {
      await new Promise((resolve) => realSetTimeout(resolve, 5));
    }
    expect(done()).toBe(true);
  }

  async function registered(): Promise<ServiceRegistration> {
    const reg = registration();
    await reg.prepare(true);
    void reg.registerWhenReachable();
    await until(() => reg.machine.state === 'registered');
    return reg;
  }

  /** Shutdown as the registrar runs it: lifetime aborted, loops stopped, then leave(). */
  async function shutDown(reg: ServiceRegistration): Promise<void> {
    const inFlight = reg.attempting;
    lifetime.abort();
    await reg.stop();
    const leaving = reg.leave(inFlight);
    await jest.advanceTimersByTimeAsync(2_000);
    await leaving;
  }

  it('waits for the app, then goes registering → registered, once', async () => {
    const reg = await registered();
    expect(reg.endpoint?.id).toMatch(/^web-/);
    expect(agent.calls).toEqual([`register ${reg.endpoint!.id}`]);
    expect(lines).toEqual([
      'DEBUG Waiting for service "web" to be reachable before registering it',
      expect.stringMatching(/^LOG Registering service "web" .* \(address: service.address; no check\)$/),
      expect.stringMatching(/^LOG Registered service "web" \(id .*\) at 127.0.0.1:\d+ \(no check\)$/),
    ]);
    expect(reg.machine.reregistrations).toBe(0);
  });

  it('retries a refused registration in the background until Consul takes it', async () => {
    agent.registerFailures.push(refused('register service "web"'), refused('register service "web"'));
    const reg = registration();
    await reg.prepare(true);
    void reg.registerWhenReachable();
    await until(() => reg.machine.state === 'failing');
    expect(lines.filter((line) => line.startsWith('ERROR'))).toEqual([
      'ERROR Consul at http://127.0.0.1:8500 could not register service "web": rpc error: No cluster leader (HTTP 500); retrying',
    ]); // one line per state change, not per retry
    await jest.advanceTimersByTimeAsync(1_000);
    expect(reg.machine.state).toBe('failing');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(reg.machine.state).toBe('registered');
    expect(agent.calls).toHaveLength(3);
    expect(agent.services.size).toBe(1);
  });

  it('registers again when the agent forgot the instance (lost → registered), counted as a re-registration', async () => {
    const reg = await registered();
    agent.services.clear(); // the agent restarted without its state
    await jest.advanceTimersByTimeAsync(30_000); // the next reconcile
    expect(lines).toContainEqual(
      expect.stringMatching(/^WARN The Consul agent no longer knows service "web" .*; registering it again$/),
    );
    expect(reg.machine.state).toBe('registered');
    expect(reg.machine.reregistrations).toBe(1);
    expect([...agent.services.keys()]).toEqual([reg.endpoint!.id]);
  });

  it('on shutdown: maintenance, the drain delay, then deregistered', async () => {
    const reg = await registered();
    const instance = reg.endpoint!.id;
    lifetime.abort();
    await reg.stop();
    const leaving = reg.leave(false);
    await jest.advanceTimersByTimeAsync(1_999);
    expect(reg.machine.state).toBe('leaving');
    expect(agent.calls.slice(1)).toEqual([`maintenance true ${instance}`]); // draining: still registered
    await jest.advanceTimersByTimeAsync(1);
    await leaving;
    expect(agent.calls.slice(1)).toEqual([`maintenance true ${instance}`, `deregister ${instance}`]);
    expect(reg.machine.state).toBe('deregistered');
    expect(lines.slice(-2)).toEqual([
      `LOG Draining ${instance} for 2000 ms before deregistering`,
      expect.stringMatching(/^LOG Deregistered service "web"/),
    ]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('reports a failed deregistration and ends stopped, with when Consul will remove the instance', async () => {
    const reg = await registered();
    agent.deregisterFailure = refused('deregister service');
    await shutDown(reg);
    expect(reg.machine.state).toBe('stopped');
    expect(lines.at(-1)).toMatch(
      /^WARN Could not deregister web-.*: Consul at .* could not deregister service: rpc error: No cluster leader \(HTTP 500\)\. Consul removes it once its check has been critical for .* \(service\.check\.deregisterCriticalServiceAfter\)\.$/,
    );
  });

  it('stays stopped once shut down mid-registration: a later deregister() or reconcile moves nothing', async () => {
    agent.hang = true;
    const reg = registration();
    await reg.prepare(true);
    void reg.registerWhenReachable();
    await until(() => reg.attempting && agent.calls.length === 1);
    await shutDown(reg);
    expect(reg.machine.state).toBe('stopped');
    expect(lines.at(-1)).toMatch(/^DEBUG Shut down before Consul answered the registration of .*: cancelled it/);
    await reg.deregister(); // by hand, after shutdown (an onApplicationShutdown hook)
    reg.reconcileNow();
    expect(reg.machine.state).toBe('stopped');
    expect(reg.machine.isRegistered).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps an attached check whose registration failed: still registered as before, and in the next registration', async () => {
    const reg = await registered();
    const check = {
      CheckID: `locks:${reg.endpoint!.id}`,
      Name: 'locks liveness',
      TTL: '2s',
      Status: 'passing' as const,
    };
    attached.set(check.CheckID, check);
    agent.registerFailures.push(refused('register service "web"'));
    await expect(reg.refresh()).rejects.toBeInstanceOf(ConsulRequestError);
    expect(reg.machine.state).toBe('registered');
    expect(agent.services.get(reg.endpoint!.id)?.Checks).toEqual([]); // the agent keeps the whole old definition
    agent.services.clear();
    await jest.advanceTimersByTimeAsync(30_000); // forgotten, registered again: with the attached check
    expect(reg.machine.state).toBe('registered');
    expect(agent.services.get(reg.endpoint!.id)?.Checks).toEqual([check]);
  });
});
