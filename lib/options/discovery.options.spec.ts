import { resolveConsulOptions } from '../core/consul-module.options.js';

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
