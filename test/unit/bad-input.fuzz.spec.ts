import fc from 'fast-check';
import { parseContext, ConsulConfigParseError } from '../../lib/config/config-context.parser.js';
import type { ConfigContext } from '../../lib/options/consul-config.options.js';
import { parseProperties } from '../../lib/config/formats/properties.parser.js';
import { toServiceInstance } from '../../lib/discovery/instance-mapper.js';
import { ConsulOptionsError } from '../../lib/options/consul-options.error.js';
import { resolveConsulOptions } from '../../lib/core/consul-module.options.js';

// Bad input of every shape must end in a clear, typed error or be ignored: never a TypeError from
// deep inside. Runs are seeded by fast-check and bounded in count; the counts are the number of cases.
const RUNS = 2_000;

/** Values of many shapes, including the ones JSON and YAML produce. */
const odd = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.constantFrom(null, undefined, '', 0, -1, 1.5, 70_000, NaN, true, [], {}, '10s', 'soon', '1m', '0s'),
);

/** Option objects that look roughly right, with any field replaced by something odd. */
const optionsLike = fc.record(
  {
    consul: fc.oneof(
      odd,
      fc.record(
        { host: odd, port: odd, secure: odd, token: odd, timeout: odd, cert: odd, key: odd },
        { requiredKeys: [] },
      ),
    ),
    service: fc.oneof(
      odd,
      fc.record(
        {
          name: fc.oneof(odd, fc.string(), fc.constantFrom('user_api', 'bad name', 'a/b')),
          id: odd,
          address: odd,
          port: odd,
          tags: odd,
          meta: odd,
          weights: odd,
          check: fc.oneof(
            odd,
            fc.record({ type: odd, path: odd, interval: odd, ttl: odd, timeout: odd }, { requiredKeys: [] }),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    registration: fc.oneof(
      odd,
      fc.record(
        { enabled: odd, failFast: odd, retry: odd, reconcileInterval: odd, drainDelay: odd },
        { requiredKeys: [] },
      ),
    ),
    address: fc.oneof(odd, fc.record({ preferredNetworks: odd, interface: odd, family: odd }, { requiredKeys: [] })),
    discovery: fc.oneof(
      odd,
      fc.record(
        { wait: odd, rateLimit: odd, loadBalancer: odd, failoverDatacenters: odd, dns: odd },
        { requiredKeys: [] },
      ),
    ),
    config: fc.oneof(
      odd,
      fc.record(
        { prefix: odd, app: odd, profiles: odd, format: odd, contexts: odd, validate: odd },
        { requiredKeys: [] },
      ),
    ),
    health: odd,
  },
  { requiredKeys: [] },
);

describe('fuzzed bad input', () => {
  it(`module options (${RUNS} cases): valid, or one ConsulOptionsError naming options`, () => {
    fc.assert(
      fc.property(fc.oneof(odd, optionsLike), (options) => {
        try {
          resolveConsulOptions(options as never);
        } catch (error) {
          expect(error).toBeInstanceOf(ConsulOptionsError);
          const { problems } = error as ConsulOptionsError;
          expect(problems.length).toBeGreaterThan(0);
          for (const problem of problems) expect(typeof problem.option).toBe('string');
        }
      }),
      { numRuns: RUNS },
    );
  });

  it(`KV payloads (${RUNS} cases per format): a layer, or a ConsulConfigParseError naming the key`, () => {
    const entries = fc.array(
      fc.record({
        Key: fc.oneof(
          fc.constant('config/app/data'),
          fc.string().map((k) => `config/app/${k}`),
          fc.string(),
        ),
        Value: fc.oneof(
          fc.string(),
          fc.json(),
          fc.constant(null),
          fc.constantFrom('a: [1', '{"a":', 'k=\\u12', '- x\n- y', 'null', '42'),
        ),
        ModifyIndex: fc.nat(),
      }),
      { maxLength: 8 },
    );
    for (const format of ['tree', 'json', 'yaml', 'properties'] as const) {
      const context: ConfigContext = {
        prefix: 'config/app/',
        format,
        documentKey: format === 'tree' ? undefined : 'config/app/data',
        optional: true,
      };
      fc.assert(
        fc.property(entries, (list) => {
          try {
            const { layer } = parseContext(context, list);
            expect(layer !== null && typeof layer === 'object' && !Array.isArray(layer)).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(ConsulConfigParseError);
            expect((error as Error).message).toContain('Consul KV key "config/app/data" is not valid');
          }
        }),
        { numRuns: RUNS },
      );
    }
  });

  it(`properties text (${RUNS} cases): parsed, or an error that names the line`, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        try {
          parseProperties(text);
        } catch (error) {
          expect((error as Error).message).toMatch(/^line \d+: /);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it(`Consul health entries of odd shapes (${RUNS} cases): a well-formed instance, or ignored`, () => {
    const entry = fc.oneof(
      odd,
      fc.record(
        {
          Node: fc.oneof(
            odd,
            fc.record({ Node: odd, Address: odd, Datacenter: odd, TaggedAddresses: odd }, { requiredKeys: [] }),
          ),
          Service: fc.oneof(
            odd,
            fc.record(
              {
                ID: odd,
                Service: odd,
                Address: odd,
                Port: fc.oneof(odd, fc.integer()),
                Tags: odd,
                Meta: odd,
                Weights: odd,
                TaggedAddresses: odd,
              },
              { requiredKeys: [] },
            ),
          ),
          Checks: fc.oneof(
            odd,
            fc.array(fc.record({ CheckID: odd, Status: odd }, { requiredKeys: [] }), { maxLength: 4 }),
          ),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(entry, fc.oneof(fc.constant(undefined), fc.constantFrom('dc1', 'dc2')), (raw, localDc) => {
        const instance = toServiceInstance(raw as never, localDc);
        if (instance === undefined) return;
        expect(typeof instance.id).toBe('string');
        expect(Number.isInteger(instance.port) && instance.port >= 1 && instance.port <= 65_535).toBe(true);
        expect(typeof instance.address === 'string' && instance.address.length > 0).toBe(true);
        expect(Array.isArray(instance.tags) && instance.tags.every((t) => typeof t === 'string')).toBe(true);
        expect(['passing', 'warning', 'critical', 'maintenance']).toContain(instance.status);
      }),
      { numRuns: RUNS },
    );
  });
});
