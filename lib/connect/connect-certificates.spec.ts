import { jest } from '@jest/globals';
import type { Logger } from '@nestjs/common';
import type { ConsulApi } from '../consul-api/consul-api.js';
import type { ConnectCaRoots, ConnectLeafCert } from '../consul-api/consul-api.types.js';
import { ConsulRequestError } from '../consul-api/consul-request.error.js';
import { resolveConsulOptions } from '../core/consul-module.options.js';
import { ConnectCertificates } from './connect-certificates.js';
import { ConsulConnectError } from './connect.errors.js';

const watch = resolveConsulOptions({}).discovery;
type Api = Pick<ConsulApi, 'connectCaRoots' | 'connectLeafCertificate' | 'reachability'>;

/** The agent's two answers: given once at index 1, then blocking until the test publishes another. */
class FakeAgent implements Api {
  roots: ConnectCaRoots = {
    ActiveRootID: 'r1',
    TrustDomain: 'td.consul',
    Roots: [{ ID: 'r1', RootCert: 'ROOT1', Active: true }],
  };
  leaf: ConnectLeafCert = leafOf('0a', 60_000);
  refusal?: ConsulRequestError;
  private index = 1;
  private waiting: Array<() => void> = [];
  readonly reachability = { onReconnect: () => () => undefined } as unknown as ConsulApi['reachability'];

  connectCaRoots: Api['connectCaRoots'] = (read) => this.answer(read, () => ({ roots: this.roots }));
  connectLeafCertificate: Api['connectLeafCertificate'] = (_service, read) =>
    this.answer(read, () => ({ leaf: this.leaf }));

  publish(change: () => void): void {
    change();
    this.index++;
    this.waiting.splice(0).forEach((wake) => wake());
  }

  private answer<T>(read: { index: number; signal?: AbortSignal }, body: () => T): Promise<T & { index: number }> {
    if (this.refusal) return Promise.reject(this.refusal);
    if (read.index < this.index) return Promise.resolve({ ...body(), index: this.index });
    return new Promise((resolve, reject) => {
      this.waiting.push(() => resolve({ ...body(), index: this.index }));
      read.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  }
}

function leafOf(serial: string, validForMs: number): ConnectLeafCert {
  return {
    SerialNumber: serial,
    CertPEM: `CERT${serial}`,
    PrivateKeyPEM: `KEY${serial}`,
    Service: 'api',
    ServiceURI: 'spiffe://td.consul/ns/default/dc/dc1/svc/api',
    ValidAfter: new Date(Date.now() - 1_000).toISOString(),
    ValidBefore: new Date(Date.now() + validForMs).toISOString(),
  };
}

function logger() {
  return { log: jest.fn(), error: jest.fn(), warn: jest.fn(), debug: jest.fn() } as unknown as Logger & {
    log: jest.Mock;
    error: jest.Mock;
  };
}

describe('ConnectCertificates', () => {
  let agent: FakeAgent;
  let log: ReturnType<typeof logger>;
  let certificates: ConnectCertificates;

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    agent = new FakeAgent();
    log = logger();
    certificates = new ConnectCertificates(agent, 'api', watch, log);
  });
  afterEach(() => {
    certificates.stop();
    jest.useRealTimers();
  });

  it('starts with the leaf and every root, and tells listeners of a new leaf and of new roots, not of the first pair', async () => {
    const first = await certificates.start();
    expect(first).toMatchObject({
      cert: 'CERT0a',
      key: 'KEY0a',
      ca: ['ROOT1'],
      trustDomain: 'td.consul',
      serial: '0a',
    });
    const seen: string[] = [];
    certificates.onChange((material) => seen.push(`${material.serial}:${material.ca.join('+')}`));

    agent.publish(() => {
      agent.roots = { ...agent.roots, Roots: [...agent.roots.Roots!, { ID: 'r2', RootCert: 'ROOT2', Active: false }] };
    });
    await jest.advanceTimersByTimeAsync(0);
    agent.publish(() => (agent.leaf = leafOf('0b', 60_000)));
    await jest.advanceTimersByTimeAsync(0);

    expect(seen).toEqual(['0a:ROOT1+ROOT2', '0b:ROOT1+ROOT2']);
    expect(certificates.current?.serial).toBe('0b');
    expect(log.log.mock.calls.map(([line]) => line).filter((line) => String(line).startsWith('New'))).toEqual([
      expect.stringContaining('New Connect CA roots for "api"'),
      expect.stringContaining('New Connect certificate (serial 0b) for "api"'),
    ]);
  });

  it('says once, with the time, when the leaf in hand expires without a renewal', async () => {
    agent.leaf = leafOf('0a', 5_000);
    await certificates.start();
    await jest.advanceTimersByTimeAsync(4_000);
    expect(log.error).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1_500);
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0][0]).toMatch(/certificate of "api" \(serial 0a\) expired at .* not renewed it/);
  });

  it('says nothing when the agent renews the leaf in time', async () => {
    agent.leaf = leafOf('0a', 5_000);
    await certificates.start();
    agent.publish(() => (agent.leaf = leafOf('0b', 60_000)));
    await jest.advanceTimersByTimeAsync(10_000);
    expect(log.error).not.toHaveBeenCalled();
  });

  it('turns the agent refusing into a ConsulConnectError that says what to do', async () => {
    agent.refusal = new ConsulRequestError(
      'read',
      'http://127.0.0.1:8500',
      500,
      'Connect must be enabled in order to use this endpoint',
    );
    await expect(certificates.start()).rejects.toThrow(ConsulConnectError);
    await expect(new ConnectCertificates(agent, 'api', watch, log).start()).rejects.toThrow(
      /connect \{ enabled = true \}/,
    );
  });

  it('names the policy a token needs when the agent says 403', async () => {
    agent.refusal = new ConsulRequestError('read', 'http://127.0.0.1:8500', 403, 'Permission denied');
    await expect(certificates.start()).rejects.toThrow('service "api" { policy = "write" }');
  });
});
