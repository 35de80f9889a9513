import { useRecordingAgent } from '../../test/helpers/recording-agent.js';
import type { SessionDefinition } from './consul-api.types.js';

/** `/v1/session` as the adapter asks it (Consul 1.8.7's answers): what locks hang on. */
describe('SessionEndpoints', () => {
  const suite = useRecordingAgent();
  const id = 'adf4238a-882b-9ddc-4a9d-5b6758e4159e';
  const definition: SessionDefinition = {
    Name: 'web (web-1)',
    TTL: '15s',
    LockDelay: '1s',
    Behavior: 'release',
    Checks: ['serfHealth', 'service:web-1'],
  };

  it('creates a session from the whole definition and resolves its id', async () => {
    const { agent, api } = suite;
    agent.answer({ json: { ID: id } });
    expect(await api.createSession(definition)).toBe(id);
    const request = agent.only();
    expect(`${request.method} ${request.url}`).toBe('PUT /v1/session/create');
    expect(JSON.parse(request.body)).toEqual(definition);
  });

  it('says it expected a session ID when the answer has none', async () => {
    const { agent, api } = suite;
    agent.answer({ json: {} }, { json: { ID: '' } }, { text: 'ok' });
    for (const got of ['{}', '{"ID":""}', 'ok']) {
      await expect(api.createSession(definition)).rejects.toThrow(
        `could not create session "web (web-1)": expected a session ID, got ${got} (HTTP 200)`,
      );
    }
  });

  it('renews: true while Consul knows the session, false once it answers 404', async () => {
    const { agent, api } = suite;
    agent.answer(
      { json: [{ ID: id, Name: 'web (web-1)', TTL: '15s', Behavior: 'release', LockDelay: 1_000_000_000 }] },
      { status: 404, text: `Session id '${id}' not found` },
      { status: 500, text: 'No cluster leader' },
    );
    expect(await api.renewSession(id)).toBe(true);
    expect(await api.renewSession(id)).toBe(false);
    await expect(api.renewSession(id)).rejects.toMatchObject({ statusCode: 500, action: `renew session "${id}"` });
    expect(agent.requests.map((r) => `${r.method} ${r.url}`)).toEqual(Array(3).fill(`PUT /v1/session/renew/${id}`));
  });

  it('ends a renewal or a destroy at the timeout it is given (a renewal must not outlive the lease)', async () => {
    const { agent, api } = suite;
    agent.answer({ hang: true }, { hang: true });
    await expect(api.renewSession(id, 100)).rejects.toThrow(
      `could not renew session "${id}": request timed out (100ms)`,
    );
    await expect(api.destroySession(id, 100)).rejects.toThrow(
      `could not destroy session "${id}": request timed out (100ms)`,
    );
  });

  it('destroys a session by id', async () => {
    const { agent, api } = suite;
    agent.answer({ json: true });
    await api.destroySession(id);
    expect(agent.only().url).toBe(`/v1/session/destroy/${id}`);
  });
});
