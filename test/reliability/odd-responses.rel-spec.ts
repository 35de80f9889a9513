import fc from 'fast-check';
import { ConsulConfigService, ConsulDiscoveryService } from '../../lib/index.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { startAppBehind, type TestApp } from '../helpers/consul-app.js';
import { CountingHttpProxy, type ForgedAnswer } from '../helpers/counting-proxy.js';
import { eventually } from '../helpers/eventually.js';
import { HttpUpstream } from '../helpers/http-upstream.js';
import { report } from './report.js';

const CASES = 400; // per kind of answer (instances, KV); each is one round trip of a real watch

/** Values of every JSON type, and some that are not JSON at all. */
const oddValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);

const indexHeader = fc.oneof(
  fc.constantFrom('', '0', '-1', 'abc', '1e309', '18446744073709551616', '3.5', '9007199254740993'),
  fc.nat({ max: 1_000_000 }).map(String),
);

/** A health entry that may miss any field or carry any type where Consul puts another. */
const oddHealthEntry = fc.record(
  {
    Node: fc.oneof(
      oddValue,
      fc.record({ Node: oddValue, Address: oddValue, Datacenter: oddValue }, { requiredKeys: [] }),
    ),
    Service: fc.oneof(
      oddValue,
      fc.record(
        { ID: oddValue, Service: oddValue, Address: oddValue, Port: fc.oneof(oddValue, fc.integer()), Tags: oddValue },
        { requiredKeys: [] },
      ),
    ),
    Checks: fc.oneof(oddValue, fc.array(fc.record({ Status: oddValue }, { requiredKeys: [] }), { maxLength: 3 })),
  },
  { requiredKeys: [] },
);

/** A list of 20,000 well-formed instances: big, but a real answer. */
const HUGE_LIST = JSON.stringify(
  Array.from({ length: 20_000 }, (_, i) => ({
    Node: { Node: 'n', Address: '127.0.0.1', Datacenter: 'dc1' },
    Service: { ID: `huge-${i}`, Service: 'who', Address: '127.0.0.1', Port: 1 + (i % 60_000), Tags: [], Meta: {} },
    Checks: [{ CheckID: 'serfHealth', Status: 'passing' }],
  })),
);

function bodies(entry: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('', '<html><body>502 Bad Gateway</body></html>', '[{"Node":', 'null', '{}', '"ok"', '42'),
    fc.json(),
    fc.array(entry, { maxLength: 5 }).map((list) => JSON.stringify(list)),
  );
}

function answers(entry: fc.Arbitrary<unknown>, extra: string[] = []): fc.Arbitrary<ForgedAnswer> {
  return fc.record({
    status: fc.constantFrom(200, 200, 200, 200, 404, 429, 500, 502),
    headers: fc.record({
      'content-type': fc.constantFrom('application/json', 'text/html'),
      'x-consul-index': indexHeader,
    }),
    body: extra.length ? fc.oneof(bodies(entry), fc.constantFrom(...extra)) : bodies(entry),
  });
}

const oddKvEntry = fc.record(
  { Key: oddValue, Value: fc.oneof(oddValue, fc.constantFrom('not base64!', 'aGVsbG8=')), ModifyIndex: oddValue },
  { requiredKeys: [] },
);

describe('Odd answers from "Consul" (a proxy in front of a real agent forges them)', () => {
  let agent: ConsulAgent;
  let proxy: CountingHttpProxy;
  let app: TestApp;
  const upstreams: HttpUpstream[] = [];
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);

  beforeAll(async () => {
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    agent = await ConsulAgent.start();
    proxy = await CountingHttpProxy.start(agent.httpPort);
    app = await startAppBehind(agent, proxy.port, upstreams, {
      service: { name: 'odd_app' },
      registration: { enabled: false, retry: { initialDelay: '20ms', maxDelay: '50ms' } },
      // Short waits: a forged index far ahead of the agent's holds a blocking read this long.
      discovery: {
        wait: '2s',
        rateLimit: { perSecond: 200, burst: 20 },
        retry: { initialDelay: '20ms', maxDelay: '50ms' },
      },
    });
  }, 60_000);

  afterAll(async () => {
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
    await app?.app.close();
    await Promise.all(upstreams.map((upstream) => upstream.close()));
    await proxy?.stop();
    await agent?.stop();
  });

  it(`keeps the last known instances and configuration through ${CASES} + ${CASES} answers that are not lists`, async () => {
    const discovery = app.app.get(ConsulDiscoveryService);
    const config = app.app.get(ConsulConfigService);
    await eventually(async () => (await discovery.getInstances('who')).length === 2, { what: 'two who instances' });
    // Garbage only: error statuses, and 200s whose body is not a JSON list (a broken proxy's page,
    // an object, a number, a list sent as text/html). None of it may read as "no instances" or
    // "no configuration".
    const garbage = fc.record({
      status: fc.constantFrom(200, 200, 429, 500, 502),
      headers: fc.record({ 'content-type': fc.constant('application/json'), 'x-consul-index': indexHeader }),
      body: fc.oneof(
        fc.constantFrom('', 'null', '{}', '42', '"ok"', '<html>502</html>', '[{"Node":'),
        fc.json().filter((text) => !text.startsWith('[')),
      ),
    });
    const asHtml = fc.record({
      status: fc.constant(200),
      headers: fc.constant({ 'content-type': 'text/html' }),
      body: fc.constantFrom('[]', HUGE_LIST),
    });
    const seen = new Set<string>();
    const sampler = setInterval(async () => {
      seen.add(`${(await discovery.getInstances('who')).map((i) => i.id).join()} ${config.get('greeting')}`);
    }, 10);
    try {
      proxy.forge('/v1/health/service/who', fc.sample(fc.oneof(garbage, asHtml), { numRuns: CASES, seed: 3 }));
      proxy.forge('/v1/kv/config/', fc.sample(fc.oneof(garbage, asHtml), { numRuns: CASES, seed: 5 }));
      await eventually(() => proxy.forgedLeft === 0, {
        timeoutMs: 90_000,
        intervalMs: 200,
        what: 'the watches to consume every forged answer',
      });
    } finally {
      clearInterval(sampler);
    }
    report('garbage-responses', { forged_answers: 2 * CASES, states_seen: seen.size, crashes: crashes.length });
    expect([...seen]).toEqual(['who-1,who-2 hello']);
    expect(crashes).toEqual([]);
  }, 150_000);

  it(`survives ${CASES} odd instance lists and ${CASES} odd KV answers, then follows the real agent again`, async () => {
    const discovery = app.app.get(ConsulDiscoveryService);
    const config = app.app.get(ConsulConfigService);
    await eventually(async () => (await discovery.getInstances('who')).length === 2, { what: 'two who instances' });
    expect(config.get('greeting')).toBe('hello');
    const linesBefore = app.logger.lines.length;

    const health = fc.sample(answers(oddHealthEntry, [HUGE_LIST]), { numRuns: CASES, seed: 7 });
    const kv = fc.sample(answers(oddKvEntry), { numRuns: CASES, seed: 11 });
    proxy.forge('/v1/health/service/who', health);
    proxy.forge('/v1/kv/config/', kv);
    await eventually(() => proxy.forgedLeft === 0, {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: 'the watches to consume every forged answer',
    });

    // Back on the real agent: the real instances and the real configuration, whatever came before.
    await agent.api('/v1/kv/config/odd_app/greeting', { method: 'PUT', body: 'hello again' });
    await eventually(async () => (await discovery.getInstances('who')).map((i) => i.id).join() === 'who-1,who-2', {
      timeoutMs: 10_000,
      what: 'the real who instances again',
    });
    await eventually(() => config.get('greeting') === 'hello again', {
      timeoutMs: 10_000,
      what: 'the real configuration again',
    });
    const chosen = await discovery.choose('who');
    expect(['who-1', 'who-2']).toContain(chosen.id);

    const lines = app.logger.lines.slice(linesBefore);
    const warnings = lines.filter((line) => line.startsWith('WARN') || line.startsWith('ERROR'));
    report('odd-responses', {
      forged_instance_answers: CASES,
      forged_kv_answers: CASES,
      crashes: crashes.length,
      warning_lines: warnings.length,
    });
    expect(crashes).toEqual([]);
    // Every warning names what was wrong; none is a stack trace from deep inside.
    for (const line of warnings) expect(line).toMatch(/Consul at |malformed|configuration/i);
    expect(warnings.join('\n')).not.toMatch(/\n\s+at /);
  }, 150_000);
});
