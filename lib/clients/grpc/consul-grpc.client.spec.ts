import { serviceConfig } from './consul-grpc.client.js';

describe('gRPC client service config', () => {
  it('by default retries UNAVAILABLE only, 3 attempts, on every method, and balances with our policy', () => {
    expect(serviceConfig('balancer-1')).toEqual({
      loadBalancingConfig: [{ nestjs_consul_kit: { balancer: 'balancer-1' } }],
      methodConfig: [
        {
          name: [{}],
          retryPolicy: {
            maxAttempts: 3,
            initialBackoff: '0.05s',
            maxBackoff: '1s',
            backoffMultiplier: 2,
            retryableStatusCodes: ['UNAVAILABLE'],
          },
        },
      ],
    });
  });

  it('retries only the listed services and methods', () => {
    const [config] = serviceConfig('b', { methods: ['user.UserService', 'billing.Billing/Refund'] }).methodConfig;
    expect(config.name).toEqual([{ service: 'user.UserService' }, { service: 'billing.Billing', method: 'Refund' }]);
  });

  it('has no retry policy with maxAttempts: 1 (grpc-js still retries, transparently, calls that never reached the server)', () => {
    expect(serviceConfig('b', { maxAttempts: 1 }).methodConfig).toEqual([]);
  });
});
