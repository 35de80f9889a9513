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

describe('what an instance holds (10,000 of them are held for as long as they are watched)', () => {
  const plain = (id: string) =>
    entry({
      Service: {
        ID: id,
        Service: 'svc',
        Port: 80,
        Address: '1.2.3.4',
        Tags: [],
        Meta: {},
        Weights: { Passing: 1, Warning: 1 },
      },
    });

  it('keeps nothing of the entry: its tags, meta and weights are copies, and it has only the declared fields', () => {
    const raw = entry();
    const instance = toServiceInstance(raw, 'dc1')!;
    expect(Object.keys(instance).toSorted()).toEqual(
      ['address', 'dc', 'id', 'meta', 'node', 'port', 'service', 'status', 'tags', 'weights'].toSorted(),
    );
    expect(instance.tags).not.toBe(raw.Service.Tags);
    expect(instance.meta).not.toBe(raw.Service.Meta);
    expect(instance.weights).not.toBe(raw.Service.Weights);
    // A later change to the answer's objects does not reach the instance.
    raw.Service.Tags.push('late');
    raw.Service.Meta.k = 'changed';
    expect(instance).toMatchObject({ tags: ['t'], meta: { k: 'v' } });
  });

  it('shares one frozen empty tags list, empty meta and default weights between instances', () => {
    const [a, b] = [toServiceInstance(plain('a'), 'dc1')!, toServiceInstance(plain('b'), 'dc1')!];
    expect(a.tags).toBe(b.tags);
    expect(a.meta).toBe(b.meta);
    expect(a.weights).toBe(b.weights);
    expect(Object.isFrozen(a.tags) && Object.isFrozen(a.meta) && Object.isFrozen(a.weights)).toBe(true);
    expect(a).toMatchObject({ tags: [], meta: {}, weights: { passing: 1, warning: 1 } });
    // Weights of their own are not shared.
    expect(toServiceInstance(entry(), 'dc1')!.weights).not.toBe(a.weights);
  });

  it('copies a meta key named __proto__ as data, as the spread it replaces did', () => {
    const raw = entry();
    const meta = toServiceInstance(
      { ...raw, Service: { ...raw.Service, Meta: JSON.parse('{"__proto__":"x","k":"v"}') as Record<string, string> } },
      'dc1',
    )!.meta;
    expect(Object.getPrototypeOf(meta)).toBe(Object.prototype);
    expect(Object.entries(meta)).toEqual([
      ['__proto__', 'x'],
      ['k', 'v'],
    ]);
  });

  it('maps the same with or without a string pool, and the pool keeps one copy of each value', () => {
    const pool = new Map<string, string>();
    const pooled = [toServiceInstance(entry(), 'dc1', pool), toServiceInstance(entry(), 'dc1', pool)];
    expect(pooled).toEqual([toServiceInstance(entry(), 'dc1'), toServiceInstance(entry(), 'dc1')]);
    expect([...pool.keys()].toSorted()).toEqual(['10.0.0.1', 'dc1', 'n1', 'svc', 't', 'v'].toSorted());
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
