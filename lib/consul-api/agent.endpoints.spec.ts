import { ConsulKitError } from '../common/consul-kit.error.js';
import { useRecordingAgent } from '../../test/helpers/recording-agent.js';
import type { AgentService, AgentServiceRegistration } from './consul-api.types.js';
import { ConsulRequestError } from './consul-request.error.js';

/** `/v1/agent` as the adapter asks it and reads its answers (Consul 1.8.7's shapes). */
describe('AgentEndpoints', () => {
  const suite = useRecordingAgent();

  /** One entry of `GET /v1/agent/services` as Consul 1.8.7 answers it. */
  const listed = (id: string): AgentService & Record<string, unknown> => ({
    ID: id,
    Service: 'web',
    Tags: ['v1'],
    Meta: { version: '1' },
    Port: 8080,
    Address: '127.0.0.1',
    TaggedAddresses: { lan_ipv4: { Address: '127.0.0.1', Port: 8080 } },
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Datacenter: 'dc1',
  });

  describe('agentService', () => {
    it('asks for the one id with a filter, and reads it from the answer', async () => {
      const { agent, api } = suite;
      agent.answer({ json: { 'web-1': listed('web-1') } }, { json: {} });
      expect(await api.agentService('web-1')).toMatchObject({ ID: 'web-1', Service: 'web', Port: 8080 });
      const request = agent.only();
      expect(request.method).toBe('GET');
      expect(request.path).toBe('/v1/agent/services');
      expect(request.query.get('filter')).toBe('ID == `web-1`');
      expect(await api.agentService('web-2')).toBeUndefined();
    });

    it('asks for the whole list when no filter can spell the id, and still finds only that id', async () => {
      const { agent, api } = suite;
      const id = 'back`tick "and" quotes';
      agent.answer({ json: { 'web-1': listed('web-1'), [id]: listed(id) } });
      expect(await api.agentService(id)).toMatchObject({ ID: id });
      expect(agent.only().query.has('filter')).toBe(false);
    });

    it('says it expected a JSON object when the answer is something else', async () => {
      const { agent, api } = suite;
      agent.answer({ json: [listed('web-1')] }, { text: 'Bad Gateway', type: 'text/plain' }, { status: 200, text: '' });
      await expect(api.agentService('web-1')).rejects.toThrow(
        'could not read service id "web-1": expected a JSON object, got [{"ID":"web-1"',
      );
      await expect(api.agentService('web-1')).rejects.toThrow('expected a JSON object, got Bad Gateway (HTTP 200)');
      await expect(api.agentService('web-1')).rejects.toThrow('expected a JSON object, got an empty body (HTTP 200)');
    });

    it('names an id holding a lone surrogate, sends nothing, and does not call the agent unreachable', async () => {
      const { agent, api, warnings } = suite;
      const error = await api.agentService('web\uD800-1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConsulKitError);
      expect(error).not.toBeInstanceOf(ConsulRequestError);
      expect((error as Error).message).toContain('"web\uD800-1" holds a lone UTF-16 surrogate');
      expect(agent.requests).toEqual([]);
      expect(api.reachability.reachable).toBe(true);
      expect(warnings).toEqual([]);
    });
  });

  describe('registerService', () => {
    it('puts the whole definition as JSON and asks to replace the checks the agent has', async () => {
      const { agent, api } = suite;
      const definition: AgentServiceRegistration = {
        ID: 'web-1',
        Name: 'web',
        Address: '127.0.0.1',
        Port: 8080,
        Tags: ['v1'],
        Meta: { version: '1' },
        EnableTagOverride: true,
        Weights: { Passing: 7, Warning: 2 },
        Checks: [{ CheckID: 'service:web-1', Name: 'ttl', TTL: '10s', Status: 'critical' }],
      };
      agent.answer({ text: '' });
      await api.registerService(definition);
      const request = agent.only();
      expect(request).toMatchObject({ method: 'PUT', url: '/v1/agent/service/register?replace-existing-checks=true' });
      expect(request.headers['content-type']).toBe('application/json');
      expect(JSON.parse(request.body)).toEqual(definition);
    });
  });

  describe('updateTtlCheck', () => {
    it('passes, warns or fails the check with its output as the note', async () => {
      const { agent, api } = suite;
      agent.answer({ text: '' }, { text: '' }, { text: '' });
      expect(await api.updateTtlCheck('service:web-1', 'passing', '{"status":"up"}')).toBe(true);
      expect(await api.updateTtlCheck('service:web-1', 'warning', 'slow')).toBe(true);
      expect(await api.updateTtlCheck('service:web-1', 'critical', 'down')).toBe(true);
      expect(agent.requests.map((r) => `${r.method} ${r.path} ${r.query.get('note')}`)).toEqual([
        'PUT /v1/agent/check/pass/service%3Aweb-1 {"status":"up"}',
        'PUT /v1/agent/check/warn/service%3Aweb-1 slow',
        'PUT /v1/agent/check/fail/service%3Aweb-1 down',
      ]);
    });

    it('says false for a check the agent does not know (1.8: 500 "Unknown check"; newer: 404), and fails on other errors', async () => {
      const { agent, api } = suite;
      agent.answer(
        { status: 500, text: 'Unknown check "service:web-1"' },
        { status: 500, text: 'CheckID "service:web-1" does not have associated TTL' },
        {
          status: 404,
          text: 'Unknown check ID "service:web-1". Ensure that the check ID is passed, not the check name.',
        },
        { status: 500, text: 'No cluster leader' },
      );
      expect(await api.updateTtlCheck('service:web-1', 'passing', 'ok')).toBe(false);
      expect(await api.updateTtlCheck('service:web-1', 'passing', 'ok')).toBe(false);
      expect(await api.updateTtlCheck('service:web-1', 'passing', 'ok')).toBe(false);
      await expect(api.updateTtlCheck('service:web-1', 'passing', 'ok')).rejects.toMatchObject({
        message: `Consul at ${agent.address} could not update check "service:web-1": No cluster leader (HTTP 500)`,
      });
    });
  });

  describe('deregisterService and setServiceMaintenance', () => {
    it('escape the id in the path and send the reason', async () => {
      const { agent, api } = suite;
      agent.answer({ text: '' }, { text: '' });
      await api.setServiceMaintenance('web/1 a', true, 'shutting down');
      await api.deregisterService('web/1 a');
      expect(agent.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
        'PUT /v1/agent/service/maintenance/web%2F1%20a?enable=true&reason=shutting%20down',
        'PUT /v1/agent/service/deregister/web%2F1%20a',
      ]);
    });

    it('name an id holding a lone surrogate instead of calling the agent unreachable', async () => {
      const { agent, api, warnings } = suite;
      for (const call of [
        () => api.deregisterService('web\uD800-1'),
        () => api.setServiceMaintenance('web\uD800-1', true),
        () => api.updateTtlCheck('service:web\uD800-1', 'passing', 'ok'),
      ]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConsulKitError);
        expect(error).not.toBeInstanceOf(ConsulRequestError);
        expect((error as Error).message).toMatch(/"(service:)?web\uD800-1".* holds a lone UTF-16 surrogate/);
      }
      expect(agent.requests).toEqual([]);
      expect(api.reachability.reachable).toBe(true);
      expect(warnings).toEqual([]);
    });
  });
});
