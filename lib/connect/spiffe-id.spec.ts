import { parseServiceIdentity, sameService, spiffeUriOf } from './spiffe-id.js';

describe('SPIFFE service identities', () => {
  const uri = 'spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/user_api';

  it('reads the trust domain, namespace, datacenter and service of a Connect service id', () => {
    expect(parseServiceIdentity(uri)).toEqual({
      trustDomain: '11111111-2222-3333-4444-555555555555.consul',
      namespace: 'default',
      datacenter: 'dc1',
      service: 'user_api',
    });
  });

  it('names no service for an agent id, a CA id, another scheme or a malformed escape', () => {
    expect(parseServiceIdentity('spiffe://td.consul/agent/client/dc/dc1/id/node')).toBeUndefined();
    expect(parseServiceIdentity('spiffe://td.consul')).toBeUndefined();
    expect(parseServiceIdentity('https://td.consul/ns/default/dc/dc1/svc/api')).toBeUndefined();
    expect(parseServiceIdentity('spiffe://td.consul/ns/default/dc/dc1/svc/%E0%A4%A')).toBeUndefined();
    expect(parseServiceIdentity(`${uri}/extra`)).toBeUndefined();
  });

  it('finds the URI among the subject alternative names Node reports', () => {
    expect(spiffeUriOf({ subjectaltname: `DNS:api.example, URI:${uri}` })).toBe(uri);
    expect(spiffeUriOf({ subjectaltname: 'DNS:api.example' })).toBeUndefined();
    expect(spiffeUriOf(undefined)).toBeUndefined();
  });

  it('compares by trust domain (any case) and service, in the default namespace, whatever the datacenter', () => {
    const identity = parseServiceIdentity(uri)!;
    const trustDomain = identity.trustDomain.toUpperCase();
    expect(sameService({ ...identity, datacenter: 'dc2' }, { trustDomain, service: 'user_api' })).toBe(true);
    expect(sameService(identity, { trustDomain, service: 'user_service' })).toBe(false);
    expect(sameService(identity, { trustDomain: 'other.consul', service: 'user_api' })).toBe(false);
    expect(sameService({ ...identity, namespace: 'team' }, { trustDomain, service: 'user_api' })).toBe(false);
  });
});
