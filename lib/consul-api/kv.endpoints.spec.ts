import { ConsulKitError } from '../common/consul-kit.error.js';
import { useRecordingAgent } from '../../test/helpers/recording-agent.js';

/** `/v1/kv` as the adapter asks it and decodes its answers (Consul 1.8.7's shapes). */
describe('KvEndpoints', () => {
  const suite = useRecordingAgent();

  /** One entry of a KV answer as Consul 1.8.7 gives it. */
  const stored = (Key: string, value: string | null, extra: Record<string, unknown> = {}) => ({
    LockIndex: 0,
    Key,
    Flags: 0,
    Value: value === null ? null : Buffer.from(value).toString('base64'),
    CreateIndex: 12,
    ModifyIndex: 15,
    ...extra,
  });

  describe('kvTree', () => {
    it('reads every key under the prefix, values decoded, each path segment escaped', async () => {
      const { agent, api } = suite;
      agent.answer({
        json: [stored('my app/', null), stored('my app/a?b', 'héllo', { Session: 'f3c2…' })],
        headers: { 'x-consul-index': '15' },
      });
      expect(await api.kvTree('my app/', { index: 0, waitMs: 0 })).toEqual({
        entries: [
          { Key: 'my app/', Value: null, ModifyIndex: 15 },
          { Key: 'my app/a?b', Value: 'héllo', ModifyIndex: 15, Session: 'f3c2…' },
        ],
        index: 15,
      });
      expect(agent.only().url).toBe('/v1/kv/my%20app/?recurse=true');
    });

    it('reads a prefix without keys (404) as an empty tree, with its index', async () => {
      const { agent, api } = suite;
      agent.answer({ status: 404, text: '', headers: { 'x-consul-index': '9' } });
      expect(await api.kvTree('none/', { index: 0, waitMs: 0 })).toEqual({ entries: [], index: 9 });
    });

    it('blocks on the index it is given, and reads stale when asked', async () => {
      const { agent, api } = suite;
      agent.answer({ json: [], headers: { 'x-consul-index': '16' } });
      expect((await api.kvTree('app/', { index: 15, waitMs: 60_000, stale: true })).index).toBe(16);
      expect(Object.fromEntries(agent.only().query)).toEqual({ recurse: 'true', index: '15', wait: '60s', stale: '' });
    });

    it('refuses a whole answer with one odd entry, naming it (configuration is replaced only by a sound one)', async () => {
      const { agent, api } = suite;
      agent.answer({ json: [stored('app/a', 'x'), { ...stored('app/b', null), Value: 'not base64!' }] });
      await expect(api.kvTree('app/', { index: 0, waitMs: 0 })).rejects.toThrow(
        'could not read the KV prefix "app/": unexpected KV entry {"LockIndex":0,"Key":"app/b"',
      );
    });

    it('names a key holding a lone surrogate without sending it', async () => {
      const { agent, api } = suite;
      const error = await api.kvTree('app/\uD800/', { index: 0, waitMs: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConsulKitError);
      expect((error as Error).message).toContain('The KV key "app/\uD800/" holds a lone UTF-16 surrogate');
      expect(agent.requests).toEqual([]);
    });
  });

  describe('kvGet', () => {
    it('reads one key with its lock state, or undefined with the index when it does not exist', async () => {
      const { agent, api } = suite;
      agent.answer(
        {
          json: [stored('locks/job', 'owner-1', { LockIndex: 3, Session: 'adf4238a' })],
          headers: { 'x-consul-index': '15' },
        },
        { status: 404, text: '', headers: { 'x-consul-index': '20' } },
      );
      expect(await api.kvGet('locks/job')).toEqual({
        pair: { Key: 'locks/job', Value: 'owner-1', ModifyIndex: 15, LockIndex: 3, Session: 'adf4238a' },
        index: 15,
      });
      expect(await api.kvGet('locks/job', { index: 15, waitMs: 30_000 })).toEqual({ pair: undefined, index: 20 });
      expect(agent.requests.map((r) => r.url)).toEqual(['/v1/kv/locks%2Fjob', '/v1/kv/locks%2Fjob?index=15&wait=30s']);
    });

    it('names a key holding a lone surrogate instead of calling the agent unreachable', async () => {
      const { agent, api, warnings } = suite;
      for (const call of [
        () => api.kvGet('locks/\uD800'),
        () => api.kvPut('locks/\uD800', 'x'),
        () => api.kvAcquire('locks/\uD800', 'x', 'adf4238a'),
      ]) {
        await expect(call()).rejects.toThrow('KV key "locks/\uD800": it holds a lone UTF-16 surrogate');
      }
      expect(agent.requests).toEqual([]);
      expect(warnings).toEqual([]);
    });
  });

  describe('writes', () => {
    it('says whether Consul took a compare-and-set, an acquire or a release', async () => {
      const { agent, api } = suite;
      agent.answer({ json: true }, { json: false }, { json: true }, { json: false }, { json: true });
      expect(await api.kvPut('app/a', 'v', 0)).toBe(true);
      expect(await api.kvPut('app/a', 'v', 0)).toBe(false);
      expect(await api.kvAcquire('locks/job', 'owner-1', 'adf4238a')).toBe(true);
      expect(await api.kvAcquire('locks/job', 'owner-1', 'adf4238a')).toBe(false);
      expect(await api.kvRelease('locks/job', '', 'adf4238a')).toBe(true);
      expect(agent.requests.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
        'PUT /v1/kv/app%2Fa?cas=0 v',
        'PUT /v1/kv/app%2Fa?cas=0 v',
        'PUT /v1/kv/locks%2Fjob?acquire=adf4238a owner-1',
        'PUT /v1/kv/locks%2Fjob?acquire=adf4238a owner-1',
        'PUT /v1/kv/locks%2Fjob?release=adf4238a ',
      ]);
    });

    it('fails an acquire with a session Consul does not know, with its words', async () => {
      const { agent, api } = suite;
      agent.answer({ status: 500, text: 'invalid session "adf4238a"' });
      await expect(api.kvAcquire('locks/job', 'owner-1', 'adf4238a')).rejects.toMatchObject({
        statusCode: 500,
        reason: 'invalid session "adf4238a"',
        action: 'acquire the KV key "locks/job"',
      });
    });
  });
});
