import type { ConsulInstanceIdentity } from '../core/instance-identity.js';
import { ConsulRegistrar } from './consul.registrar.js';

describe('ConsulRegistrar as the instance identity', () => {
  // consul.module.ts provides the registrar as CONSUL_INSTANCE_IDENTITY through an alias, which the
  // compiler does not check; this assignment is that check (ts-jest fails the suite on a type error).
  it('fits the contract the locks tie to', () => {
    const asIdentity = (registrar: ConsulRegistrar): ConsulInstanceIdentity => registrar;
    expect(asIdentity).toBeInstanceOf(Function);
    expect(ConsulRegistrar.prototype).toHaveProperty('attachCheck');
  });
});
