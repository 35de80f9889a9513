import { ConsulKitError } from '../common/consul-kit.error.js';
import { useRecordingAgent } from '../../test/helpers/recording-agent.js';
import type { HealthServiceEntry } from './consul-api.types.js';

/** `/v1/health/service/:name` as the adapter asks it: the read every discovery watch holds. */
describe('HealthEndpoints', () => {
  const suite = useRecordingAgent({ timeout: '200ms' });

  /** One element of the answer as Consul 1.8.7 gives it (trimmed to fields it always sends). */
  const entry: HealthServiceEntry = {
    Node: { Node: 'node-1', Address: '127.0.0.1', Datacenter: 'dc1', TaggedAddresses: { lan: '127.0.0.1' } },
    Service: { ID: 'web-1', Service: 'web', Address: '127.0.0.1', Port: 8080, Tags: ['v1'], Meta: {} },
    Checks: [
      { CheckID: 'serfHealth', Status: 'passing' },
      { CheckID: 'service:web-1', Status: 'passing' },
    ],
  };
  const indexed = (index: string) => ({ 'x-consul-index': index, 'x-consul-knownleader': 'true' });

  it('reads at once without an index, and reads X-Consul-Index', async () => {
    const { agent, api } = suite;
    agent.answer({ json: [entry], headers: indexed('57') });
    expect(await api.healthService({ service: 'web' }, { index: 0, waitMs: 300_000 })).toEqual({
      entries: [entry],
      index: 57,
    });
    const request = agent.only();
    expect(request.path).toBe('/v1/health/service/web');
    expect([...request.query.keys()]).toEqual([]);
  });

  it('blocks on the index it is given, with the wait in seconds, past consul.timeout', async () => {
    const { agent, api } = suite;
    // Answered after consul.timeout (200 ms): a blocking read's own timeout is wait + wait/16 + consul.timeout.
    agent.answer({ json: [], headers: indexed('58'), afterMs: 400 });
    expect(await api.healthService({ service: 'web' }, { index: 57, waitMs: 1_000 })).toEqual({
      entries: [],
      index: 58,
    });
    const { query } = agent.only();
    expect(Object.fromEntries(query)).toEqual({ index: '57', wait: '1s' });
  });

  it('reads a garbled or missing X-Consul-Index as 0, so that the next read does not block', async () => {
    const { agent, api } = suite;
    agent.answer(
      { json: [], headers: indexed('-3') },
      { json: [], headers: indexed('99999999999999999') },
      { json: [] },
    );
    for (let i = 0; i < 3; i++) {
      expect((await api.healthService({ service: 'web' }, { index: 0, waitMs: 0 })).index).toBe(0);
    }
  });

  it("asks one tag as a parameter and every further tag as a filter clause, with the caller's filter", async () => {
    const { agent, api } = suite;
    agent.answer({ json: [] });
    await api.healthService(
      {
        service: 'web',
        dc: 'dc2',
        tags: ['v1', 'blue', 'has`tick'],
        filter: 'Service.Meta.zone == "a"',
        near: '_agent',
        passingOnly: true,
        stale: true,
      },
      { index: 0, waitMs: 0 },
    );
    expect(Object.fromEntries(agent.only().query)).toEqual({
      stale: '',
      dc: 'dc2',
      tag: 'v1',
      filter: '`blue` in Service.Tags and "has`tick" in Service.Tags and (Service.Meta.zone == "a")',
      near: '_agent',
      passing: 'true',
    });
  });

  it('reads through the agent cache without `stale` (Consul refuses cached with consistent)', async () => {
    const { agent, api } = suite;
    agent.answer({ json: [] });
    await api.healthService({ service: 'web', cached: true, stale: true }, { index: 0, waitMs: 0 });
    expect(Object.fromEntries(agent.only().query)).toEqual({ cached: '' });
  });

  it('escapes the service name in the path, and names one holding a lone surrogate without sending it', async () => {
    const { agent, api } = suite;
    agent.answer({ json: [] });
    await api.healthService({ service: 'my web/v2?' }, { index: 0, waitMs: 0 });
    expect(agent.only().path).toBe('/v1/health/service/my%20web%2Fv2%3F');
    const error = await api.healthService({ service: 'web\uD800' }, { index: 0, waitMs: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConsulKitError);
    expect((error as Error).message).toContain('The service name "web\uD800" holds a lone UTF-16 surrogate');
    expect(agent.requests).toEqual([]);
  });

  it('names the datacenter in its errors', async () => {
    const { agent, api } = suite;
    agent.answer({ status: 500, text: 'No path to datacenter' });
    await expect(api.healthService({ service: 'web', dc: 'dc9' }, { index: 0, waitMs: 0 })).rejects.toThrow(
      `Consul at ${agent.address} could not list instances of service "web" in dc9: No path to datacenter (HTTP 500)`,
    );
  });
});
