import { resolveConsulOptions } from '../core/consul-module.options.js';

describe('connect', () => {
  it('is off unless asked for', () => {
    expect(resolveConsulOptions({}).connect).toEqual({ native: false });
    expect(resolveConsulOptions({ service: { name: 'api' }, connect: { native: true } }).connect).toEqual({
      native: true,
    });
  });

  it('needs a service: Consul issues the certificate to a service name', () => {
    expect(() => resolveConsulOptions({ connect: { native: true } })).toThrow(
      'connect: needs `service`: Consul issues the certificate to a service name',
    );
  });

  it('names unknown keys and values of the wrong type', () => {
    expect(() => resolveConsulOptions({ service: { name: 'api' }, connect: { nativ: true } as never })).toThrow(
      'connect.nativ',
    );
    expect(() => resolveConsulOptions({ service: { name: 'api' }, connect: { native: 'yes' as never } })).toThrow(
      'connect.native',
    );
  });
});
