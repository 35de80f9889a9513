import { firstValueFrom } from 'rxjs';
import { ConsulApi } from '../consul-api/consul-api.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';
import { resolveConsulOptions } from '../core/consul-module.options.js';
import { ConsulOptionsError } from '../options/consul-options.error.js';
import { ConsulDiscoveryService } from './consul-discovery.service.js';
import { type DiscoveryQuery, discoveryQueryError } from './discovery-query.js';

describe('a DiscoveryQuery is checked like the module options', () => {
  it('accepts every documented field, and no query at all', () => {
    const query: DiscoveryQuery = { dc: 'dc2', tags: ['v2'], passingOnly: false, near: '_agent', filter: 'x == "1"' };
    expect(discoveryQueryError('choose', 'billing', query)).toBeUndefined();
    expect(discoveryQueryError('choose', 'billing', {})).toBeUndefined();
    expect(discoveryQueryError('choose', 'billing', undefined)).toBeUndefined();
  });

  it('names the call, each bad field and the fix, every problem at once; an unknown key gets the closest known one', () => {
    const error = discoveryQueryError('choose', 'billing', { tag: 'v2', dc: '', passingOnly: 'yes', near: 7 });
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect(error!.message).toBe(
      [
        'Invalid ConsulDiscoveryService.choose("billing", query) options:',
        '  - query.tag: is not an option; did you mean query.tags?',
        '  - query.dc: expected a non-empty string, got ""',
        '  - query.near: expected a non-empty string, got 7',
        '  - query.passingOnly: expected true or false, got "yes"',
      ].join('\n'),
    );
  });

  it('rejects tags that are not a list of strings, and a query that is not an object', () => {
    expect(discoveryQueryError('watch', 'billing', { tags: 'v2' })?.problems).toEqual([
      { option: 'query.tags', problem: 'expected an array of non-empty strings, got "v2"', fix: undefined },
    ]);
    expect(discoveryQueryError('watch', 'billing', 'v2')?.problems[0]).toMatchObject({
      option: 'query',
      problem: 'expected an object, got "v2"',
    });
  });
});

describe('ConsulDiscoveryService refuses a bad query before it watches anything', () => {
  // Never contacted: every query below is refused before a watch would start.
  const options = resolveConsulOptions({ consul: { port: 1 } });
  let client: ConsulApi;
  let discovery: ConsulDiscoveryService;
  beforeEach(() => {
    client = new ConsulApi(options.consul);
    discovery = new ConsulDiscoveryService(client, options, new ConsulMetrics());
  });
  afterEach(() => {
    discovery.onApplicationShutdown();
    client.close();
  });

  const bad = { tag: 'v2' } as DiscoveryQuery;
  const named = (call: string) => `Invalid ConsulDiscoveryService.${call}("billing", query) options:`;

  it.each([
    ['getInstances', (d: ConsulDiscoveryService) => d.getInstances('billing', bad)],
    ['getAvailableInstances', (d: ConsulDiscoveryService) => d.getAvailableInstances('billing', bad)],
    ['choose', (d: ConsulDiscoveryService) => d.choose('billing', bad)],
    ['lease', (d: ConsulDiscoveryService) => d.lease('billing', bad)],
    ['watch', (d: ConsulDiscoveryService) => firstValueFrom(d.watch('billing', bad))],
  ])('%s() rejects with a ConsulOptionsError naming it and the fix', async (call, run) => {
    const result = run(discovery); // a promise that rejects, never a synchronous throw
    await expect(result).rejects.toThrow(ConsulOptionsError);
    await expect(result).rejects.toThrow(`${named(call)}\n  - query.tag: is not an option; did you mean query.tags?`);
    expect(discovery.activeWatches).toBe(0);
  });

  it('watchStats() names the bad query too', () => {
    expect(() => discovery.watchStats('billing', bad)).toThrow(named('watchStats'));
  });
});
