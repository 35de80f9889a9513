import { resolveConsulOptions } from '../core/consul-module.options.js';
import { buildServiceDefinition, checkIdOf } from './service-definition.js';

const service = (extra: object = {}) =>
  resolveConsulOptions({ service: { name: 'user_api', tags: ['user'], ...extra } }).service!;
const endpoint = { id: 'user-api-h-8080', address: '10.0.0.5', addressChosenBy: 'service.address', port: 8080 };

describe('buildServiceDefinition', () => {
  it('registers an HTTP check on the served health path, with the real HTTP port', () => {
    const definition = buildServiceDefinition(service(), { ...endpoint, checkType: 'http', httpPort: 8080 });
    expect(definition).toMatchObject({
      ID: 'user-api-h-8080',
      Name: 'user_api',
      Address: '10.0.0.5',
      Port: 8080,
      Tags: ['user'],
    });
    expect(definition.Checks).toEqual([
      {
        CheckID: checkIdOf('user-api-h-8080'),
        Name: 'user_api HTTP health (/health)',
        HTTP: 'http://10.0.0.5:8080/health',
        Interval: '10s',
        TLSSkipVerify: false,
        DeregisterCriticalServiceAfter: '1m',
      },
    ]);
    expect(definition.Weights).toBeUndefined();
  });

  it('brackets IPv6 addresses in check targets', () => {
    const [tcp] = buildServiceDefinition(service(), { ...endpoint, address: 'fd00::5', checkType: 'tcp' }).Checks;
    expect(tcp.TCP).toBe('[fd00::5]:8080');
    const [grpc] = buildServiceDefinition(service(), { ...endpoint, address: 'fd00::5', checkType: 'grpc' }).Checks;
    expect(grpc.GRPC).toBe('[fd00::5]:8080');
  });

  it('starts a TTL check critical until the first heartbeat', () => {
    const [ttl] = buildServiceDefinition(service({ check: { ttl: '30s' } }), { ...endpoint, checkType: 'ttl' }).Checks;
    expect(ttl).toMatchObject({ TTL: '30s', Status: 'critical', DeregisterCriticalServiceAfter: '1m' });
  });

  it('sends weights only when given, and no check for "none"', () => {
    const definition = buildServiceDefinition(service({ weights: { passing: 5, warning: 1 } }), {
      ...endpoint,
      checkType: 'none',
    });
    expect(definition.Weights).toEqual({ Passing: 5, Warning: 1 });
    expect(definition.Checks).toEqual([]);
  });
});

describe('buildServiceDefinition with Connect native', () => {
  it('registers Connect.Native and checks over TLS without verification (the agent holds no Connect certificate)', () => {
    const http = buildServiceDefinition(service(), { ...endpoint, checkType: 'http', httpPort: 8080 }, undefined, [], {
      connectNative: true,
    });
    expect(http.Connect).toEqual({ Native: true });
    expect(http.Checks[0]).toMatchObject({ HTTP: 'https://10.0.0.5:8080/health', TLSSkipVerify: true });
    const [grpc] = buildServiceDefinition(service(), { ...endpoint, checkType: 'grpc' }, undefined, [], {
      connectNative: true,
    }).Checks;
    expect(grpc).toMatchObject({ GRPC: '10.0.0.5:8080', GRPCUseTLS: true, TLSSkipVerify: true });
  });

  it('registers no Connect block without it', () => {
    const definition = buildServiceDefinition(service(), { ...endpoint, checkType: 'grpc' });
    expect(definition.Connect).toBeUndefined();
    expect(definition.Checks[0]).not.toHaveProperty('GRPCUseTLS');
  });
});
