import { sameInstances, toServiceInstance } from './instance-mapper.js';

const entry = (extra: Record<string, unknown> = {}) => ({
  Node: { Node: 'n1', Address: '10.0.0.1', Datacenter: 'dc1', TaggedAddresses: { wan: '203.0.113.1' } },
  Service: {
    ID: 'a',
    Service: 'svc',
    Address: '',
    Port: 80,
    Tags: ['t'],
    Meta: { k: 'v' },
    Weights: { Passing: 2, Warning: 1 },
  },
  Checks: [{ CheckID: 'serfHealth', Status: 'passing' }],
  ...extra,
});

describe('toServiceInstance', () => {
  it('falls back to the node address when the service has none', () => {
    expect(toServiceInstance(entry(), 'dc1')).toMatchObject({
      id: 'a',
      address: '10.0.0.1',
      port: 80,
      dc: 'dc1',
      node: 'n1',
      weights: { passing: 2, warning: 1 },
    });
  });

  it('uses the WAN address for instances in another datacenter', () => {
    expect(toServiceInstance(entry(), 'dc2')?.address).toBe('203.0.113.1');
  });

  it('aggregates checks like Consul: maintenance, then critical, then warning', () => {
    const withChecks = (...checks: object[]) => toServiceInstance(entry({ Checks: checks }), 'dc1')?.status;
    expect(withChecks({ Status: 'passing' }, { Status: 'warning' })).toBe('warning');
    expect(withChecks({ Status: 'warning' }, { Status: 'critical' })).toBe('critical');
    expect(withChecks({ CheckID: '_service_maintenance:a', Status: 'critical' })).toBe('maintenance');
  });

  it.each([
    ['no Service', { Service: undefined }],
    ['no ID', { Service: { Service: 'svc', Port: 80, Address: '1.2.3.4' } }],
    ['a port out of range', { Service: { ID: 'a', Service: 'svc', Port: 70000, Address: '1.2.3.4' } }],
    ['a string port', { Service: { ID: 'a', Service: 'svc', Port: '80', Address: '1.2.3.4' } }],
    ['no address at all', { Service: { ID: 'a', Service: 'svc', Port: 80 }, Node: {} }],
  ])('ignores an entry with %s instead of crashing', (_what, extra) => {
    expect(toServiceInstance(entry(extra) as never, 'dc1')).toBeUndefined();
  });

  it('tolerates null tags, meta, weights and checks', () => {
    const odd = entry({
      Service: { ID: 'a', Service: 'svc', Port: 80, Address: '1.2.3.4', Tags: null, Meta: null, Weights: null },
      Checks: null,
    });
    expect(toServiceInstance(odd as never, 'dc1')).toMatchObject({
      tags: [],
      meta: {},
      weights: { passing: 1, warning: 1 },
      status: 'passing',
    });
  });
});

describe('sameInstances', () => {
  it('tells a real change from a repeat', () => {
    const a = toServiceInstance(entry(), 'dc1')!;
    expect(sameInstances([a], [{ ...a }])).toBe(true);
    expect(sameInstances([a], [{ ...a, port: 81 }])).toBe(false);
    expect(sameInstances([a], [])).toBe(false);
  });

  it('compares in order (the discovery loop sorts by id and node first)', () => {
    const a = toServiceInstance(entry(), 'dc1')!;
    const b = { ...a, id: `${a.id}-2` };
    expect(sameInstances([a, b], [{ ...a }, { ...b }])).toBe(true);
    expect(sameInstances([a, b], [b, a])).toBe(false);
    expect(sameInstances([a, b], [a, a])).toBe(false);
  });
});
