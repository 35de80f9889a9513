import { resolveConfigModuleOptions, resolveConsulOptions } from '../core/consul-module.options.js';
import { MAX_WAIT_MS } from './duration.js';

describe('discovery.cache', () => {
  it('reads past the agent cache unless told otherwise', () => {
    expect(resolveConsulOptions({}).discovery.cache).toBe('none');
    expect(resolveConsulOptions({ discovery: { cache: 'agent' } }).discovery.cache).toBe('agent');
  });

  it('names the option, the allowed values and the closest one for a bad value', () => {
    expect(() => resolveConsulOptions({ discovery: { cache: 'agen' as 'agent' } })).toThrow(
      'discovery.cache: "agen" is not one of "agent", "none"; did you mean "agent"?',
    );
    expect(() => resolveConsulOptions({ discovery: { cache: true as unknown as 'agent' } })).toThrow(
      'discovery.cache: true is not one of "agent", "none"',
    );
  });
});

describe('the 10m cap on a blocking wait', () => {
  it('is one limit for discovery, configuration and locks: up to 10m accepted, longer named and refused', () => {
    const at10m = resolveConsulOptions({ discovery: { wait: '10m' }, locks: { wait: '10m' } });
    expect(at10m.discovery.waitMs).toBe(MAX_WAIT_MS);
    expect(at10m.locks.waitMs).toBe(MAX_WAIT_MS);
    expect(resolveConfigModuleOptions({ config: {}, discovery: { wait: '10m' } }).discovery.waitMs).toBe(MAX_WAIT_MS);
    expect(() => resolveConsulOptions({ discovery: { wait: '10m1s' }, locks: { wait: '1h' } })).toThrow(
      [
        '  - discovery.wait: "10m1s" is longer than Consul\'s maximum of 10m',
        '  - locks.wait: "1h" is longer than Consul\'s maximum of 10m',
      ].join('\n'),
    );
    expect(() => resolveConfigModuleOptions({ config: {}, discovery: { wait: '11m' } })).toThrow(
      'discovery.wait: "11m" is longer than Consul\'s maximum of 10m',
    );
  });
});
