import { createServer, type AddressInfo, type Socket } from 'node:net';
import { ConsulApi } from '../../lib/consul-api/consul-api.js';
import { resolveConsulOptions } from '../../lib/core/consul-module.options.js';
import type { AgentServiceRegistration } from '../../lib/consul-api/consul-api.types.js';
import { ConsulRequestError } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { freePort } from '../helpers/free-ports.js';

/** The adapter's calls one by one against a real agent: what each one answers, and how each one fails. */
describe('ConsulApi against a real Consul agent', () => {
  const suite = useConsulAgent();
  let api: ConsulApi;

  const service = (id: string, tags: string[], check?: AgentServiceRegistration['Checks'][number]) =>
    api.registerService({
      ID: id,
      Name: 'api_probe',
      Address: '127.0.0.1',
      Port: 1000 + id.length,
      Tags: tags,
      Meta: { id },
      EnableTagOverride: true,
      Weights: { Passing: 7, Warning: 2 },
      Checks: check ? [check] : [],
    });

  beforeAll(() => {
    const { agent } = suite;
    api = new ConsulApi(
      resolveConsulOptions({ consul: { host: '127.0.0.1', port: agent.httpPort, timeout: '2s' } }).consul,
    );
  });
  afterAll(() => api?.close());

  it('registers with weights and tag override, and matches every tag asked for', async () => {
    await service('both', ['x', 'y', 'q"uote']);
    await service('only-x', ['x']);
    await service('only-y', ['y']);
    const { entries, index } = await api.healthService(
      { service: 'api_probe', tags: ['x', 'y', 'q"uote'] },
      { index: 0, waitMs: 0 },
    );
    expect(entries.map((entry) => entry.Service?.ID)).toEqual(['both']);
    expect(entries[0].Service?.Weights).toEqual({ Passing: 7, Warning: 2 });
    expect(index).toBeGreaterThan(0);
    const agentView = await api.agentService('both');
    expect(agentView).toMatchObject({
      ID: 'both',
      Service: 'api_probe',
      Tags: ['x', 'y', 'q"uote'],
      Meta: { id: 'both' },
    });
  });

  it('rejects, never throws, a read it cannot even send (a name with a lone surrogate cannot be put in a URL)', async () => {
    // healthService is no async function (see why there): what it checks up front must still reject.
    for (const cached of [true, false]) {
      let read: Promise<unknown> | undefined;
      expect(() => {
        read = api.healthService({ service: 'bad\uD800name', cached }, { index: 0, waitMs: 0 });
      }).not.toThrow();
      await expect(read).rejects.toThrow('The service name "bad\uD800name" holds a lone UTF-16 surrogate');
    }
  });

  it('tells a known service id from an unknown one, whatever characters the id holds', async () => {
    for (const id of ['we"ird\\id', 'back`tick "and" quotes']) {
      await service(id, []);
      expect(await api.agentService(id)).toMatchObject({ ID: id });
    }
    expect(await api.agentService('nobody-has-this-id')).toBeUndefined();
  });

  it('reports a TTL check with its output, and says false for a check the agent does not know', async () => {
    await service('ttl-probe', [], { CheckID: 'service:ttl-probe', Name: 'ttl', TTL: '30s', Status: 'critical' });
    expect(await api.updateTtlCheck('service:ttl-probe', 'warning', '{"status":"degraded"}')).toBe(true);
    const checks = (await suite.agent.api('/v1/agent/checks').then((res) => res.json())) as Record<
      string,
      { Status: string; Output: string }
    >;
    expect(checks['service:ttl-probe']).toMatchObject({ Status: 'warning', Output: '{"status":"degraded"}' });
    expect(await api.updateTtlCheck('service:not-registered', 'passing', 'ok')).toBe(false);
  });

  it('writes, compares-and-sets, reads back and deletes KV keys with slashes and spaces', async () => {
    expect(await api.kvPut('api probe/a b/c', 'first', 0)).toBe(true);
    expect(await api.kvPut('api probe/a b/c', 'second', 0)).toBe(false); // exists: cas 0 refuses
    const { entries, index } = await api.kvTree('api probe/', { index: 0, waitMs: 0 });
    expect(entries).toEqual([{ Key: 'api probe/a b/c', Value: 'first', ModifyIndex: expect.any(Number) }]);
    expect(index).toBeGreaterThan(0);
    await api.kvDelete('api probe/a b/c');
    expect((await api.kvTree('api probe/', { index: 0, waitMs: 0 })).entries).toEqual([]);
  });

  it('stops a blocking read when its signal aborts, without calling the agent unreachable', async () => {
    const { index } = await api.healthService({ service: 'api_probe' }, { index: 0, waitMs: 0 });
    const stop = new AbortController();
    const reads = [
      api.healthService({ service: 'api_probe' }, { index, waitMs: 30_000, signal: stop.signal }),
      api.kvTree('api probe/', { index: 10 ** 9, waitMs: 30_000, signal: stop.signal }),
    ];
    setTimeout(() => stop.abort(), 200);
    for (const read of reads) await expect(read).rejects.toMatchObject({ unreachable: true });
    expect(api.reachability.reachable).toBe(true);
  });

  it('says which call could not reach the agent, through the package and through our direct calls alike', async () => {
    const port = await freePort();
    const nowhere = new ConsulApi(resolveConsulOptions({ consul: { host: '127.0.0.1', port, timeout: '2s' } }).consul);
    try {
      for (const call of [() => nowhere.leader(), () => nowhere.kvTree('x/', { index: 0, waitMs: 0 })]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConsulRequestError);
        expect(error).toMatchObject({ unreachable: true, agent: `http://127.0.0.1:${port}` });
        expect((error as Error).message).toMatch(
          /could not (report its leader|read the KV prefix "x\/").*ECONNREFUSED/,
        );
      }
      expect(nowhere.reachability.reachable).toBe(false);
    } finally {
      nowhere.close();
    }
  });

  it('fails a direct call whose answer never comes, or stops halfway, with the reason and in time', async () => {
    // Not a Consul: a peer on 127.0.0.1 that misbehaves the way a hung or dying agent does.
    const sockets = new Set<Socket>();
    const peer = createServer((socket) => {
      sockets.add(socket);
      socket.once('data', () => {
        if (halfway)
          socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n[{"Key"');
      });
    });
    let halfway = false;
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    const { port } = peer.address() as AddressInfo;
    const hung = new ConsulApi(resolveConsulOptions({ consul: { host: '127.0.0.1', port, timeout: '1s' } }).consul);
    try {
      const started = Date.now();
      await expect(hung.kvTree('x/', { index: 0, waitMs: 0 })).rejects.toThrow(/request timed out \(1000ms\)/);
      expect(Date.now() - started).toBeLessThan(5_000); // bounded by its timeout, not by the peer
      halfway = true;
      await expect(hung.kvTree('x/', { index: 0, waitMs: 0 })).rejects.toMatchObject({ unreachable: true });
    } finally {
      hung.close();
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => peer.close(resolve));
    }
  });
});
