import { createLoadBalancer } from './create-load-balancer.js';
import { LeastOutstandingBalancer } from './least-outstanding.balancer.js';
import { acquireLease, type LoadBalancer } from './load-balancer.js';
import { RandomBalancer } from './random.balancer.js';
import { RoundRobinBalancer } from './round-robin.balancer.js';
import { instance, sigmas, tally } from '../../test/helpers/test-instances.js';
import { WeightedBalancer } from './weighted.balancer.js';

const N = 30_000;
const three = [instance('a'), instance('b'), instance('c')];

describe('RoundRobinBalancer', () => {
  it('visits every instance exactly once per cycle', () => {
    const balancer = new RoundRobinBalancer();
    const counts = tally(() => balancer.pick(three), 3 * 1_000);
    expect([...counts.values()]).toEqual([1_000, 1_000, 1_000]);
  });

  it('starts at a random position, so clients do not all hit the first instance', () => {
    expect(new RoundRobinBalancer(() => 0).pick(three).id).toBe('a');
    expect(new RoundRobinBalancer(() => 0.5).pick(three).id).not.toBe(new RoundRobinBalancer(() => 0.9).pick(three).id);
  });

  it('stays fair when the list changes between calls', () => {
    const balancer = new RoundRobinBalancer(() => 0);
    balancer.pick(three);
    const two = [instance('a'), instance('b')];
    const counts = tally(() => balancer.pick(two), 1_000);
    expect([counts.get('a'), counts.get('b')]).toEqual([500, 500]);
  });
});

describe('RandomBalancer', () => {
  it('is uniform (each of 3 within 5 sigma over 30,000 picks)', () => {
    const balancer = new RandomBalancer();
    const counts = tally(() => balancer.pick(three), N);
    for (const id of ['a', 'b', 'c']) expect(sigmas(counts.get(id) ?? 0, N, 1 / 3)).toBeLessThan(5);
  });
});

describe('WeightedBalancer', () => {
  it('picks in proportion to passing weights (3:1)', () => {
    const balancer = new WeightedBalancer();
    const counts = tally(() => balancer.pick([instance('big', { passing: 3 }), instance('small', { passing: 1 })]), N);
    expect(sigmas(counts.get('big') ?? 0, N, 0.75)).toBeLessThan(5);
  });

  it('uses the warning weight for instances in warning, and never picks weight 0', () => {
    const balancer = new WeightedBalancer();
    const list = [
      instance('ok', { passing: 2 }),
      instance('shaky', { passing: 2, warning: 1, status: 'warning' }),
      instance('off', { passing: 0 }),
    ];
    const counts = tally(() => balancer.pick(list), N);
    expect(counts.get('off')).toBeUndefined();
    expect(sigmas(counts.get('ok') ?? 0, N, 2 / 3)).toBeLessThan(5);
  });

  it('falls back to uniform when every weight is 0', () => {
    const balancer = new WeightedBalancer(() => 0.99);
    expect(balancer.pick([instance('a', { passing: 0 }), instance('b', { passing: 0 })]).id).toBe('b');
  });

  it('maps the random draw through the cumulative weights', () => {
    const list = [instance('a', { passing: 1 }), instance('b', { passing: 2 }), instance('c', { passing: 1 })];
    const at = (r: number) => new WeightedBalancer(() => r).pick(list).id;
    expect([at(0), at(0.24), at(0.26), at(0.74), at(0.76), at(0.999)]).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
  });
});

describe('LeastOutstandingBalancer (power of two choices)', () => {
  it('sends every pick to the idle one of two instances while the other is busy', () => {
    const balancer = new LeastOutstandingBalancer();
    const [busy, idle] = [instance('busy'), instance('idle')];
    const end = balancer.start(busy);
    const counts = tally(() => balancer.pick([busy, idle]), 1_000);
    expect(counts.get('idle')).toBe(1_000);

    end();
    const after = tally(() => balancer.pick([busy, idle]), N);
    expect(sigmas(after.get('busy') ?? 0, N, 0.5)).toBeLessThan(5);
  });

  it('never lets a count go negative', () => {
    const balancer = new LeastOutstandingBalancer();
    const [a, b] = [instance('a'), instance('b')];
    const endA = balancer.start(a);
    endA();
    endA(); // a second end of one call must not make "a" look better than idle
    const endB = balancer.start(b);
    endB();
    const counts = tally(() => balancer.pick([a, b]), N);
    expect(sigmas(counts.get('a') ?? 0, N, 0.5)).toBeLessThan(5);
  });

  it('balances in-flight load across many instances', () => {
    const balancer = new LeastOutstandingBalancer();
    const list = Array.from({ length: 10 }, (_, i) => instance(`i${i}`));
    // Calls that never end: each pick adds one in-flight call to its instance.
    const counts = tally(() => {
      const chosen = balancer.pick(list);
      balancer.start(chosen);
      return chosen;
    }, 1_000);
    // With P2C the most loaded instance stays close to the mean (100): far tighter than random.
    const loads = list.map((i) => counts.get(i.id) ?? 0);
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(10);
  });

  it('returns the only instance', () => {
    expect(new LeastOutstandingBalancer().pick([instance('solo')]).id).toBe('solo');
  });
});

describe('createLoadBalancer', () => {
  it('gives each caller its own balancer (no shared state between services)', () => {
    const a = createLoadBalancer('round-robin');
    const b = createLoadBalancer('round-robin');
    expect(a).not.toBe(b);
    expect(createLoadBalancer('weighted')).toBeInstanceOf(WeightedBalancer);
    expect(createLoadBalancer('least-outstanding')).toBeInstanceOf(LeastOutstandingBalancer);
    expect(createLoadBalancer('random')).toBeInstanceOf(RandomBalancer);
  });

  it('uses a custom factory', () => {
    const custom = { pick: (list: readonly ReturnType<typeof instance>[]) => list[0] };
    expect(createLoadBalancer(() => custom)).toBe(custom);
  });

  it('names a bad strategy and the valid ones', () => {
    expect(() => createLoadBalancer('fastest' as never)).toThrow(
      'Unknown load balancer "fastest": use "round-robin", "random", "weighted", "least-outstanding" or a factory function',
    );
  });
});

describe('acquireLease (the one balancing contract)', () => {
  it('counts a call from acquire to release, for least-outstanding', () => {
    const balancer = new LeastOutstandingBalancer();
    const [a, b] = [instance('a'), instance('b')];
    const lease = acquireLease(balancer, [a, b]);
    expect(balancer.outstanding(lease.instance.id)).toBe(1);
    const other = lease.instance === a ? b : a;
    // While the first call is in flight, every lease goes to the other instance (and is released at once).
    for (let i = 0; i < 100; i++) {
      const next = acquireLease(balancer, [a, b]);
      expect(next.instance).toBe(other);
      next.release();
    }
    lease.release();
    expect(balancer.outstanding(a.id) + balancer.outstanding(b.id)).toBe(0);
  });

  it('releases once however often release() is called', () => {
    const balancer = new LeastOutstandingBalancer();
    const solo = instance('solo');
    const first = acquireLease(balancer, [solo]);
    const second = acquireLease(balancer, [solo]);
    first.release();
    first.release();
    first.release();
    expect(balancer.outstanding('solo')).toBe(1);
    second.release();
    expect(balancer.outstanding('solo')).toBe(0);
  });

  it('pick() alone counts nothing: a dropped choice leaves no call behind', () => {
    const balancer = new LeastOutstandingBalancer();
    const list = [instance('a'), instance('b')];
    for (let i = 0; i < 100; i++) balancer.pick(list);
    expect(balancer.outstanding('a') + balancer.outstanding('b')).toBe(0);
  });

  it('works with a custom balancer that has only pick()', () => {
    const first: LoadBalancer = { pick: (list) => list[0] };
    const lease = acquireLease(first, [instance('a'), instance('b')]);
    expect(lease.instance.id).toBe('a');
    expect(() => lease.release()).not.toThrow();
  });

  it('pairs each start with its own end for a custom balancer that keeps per-call state', () => {
    const events: string[] = [];
    let call = 0;
    const tracing: LoadBalancer = {
      pick: (list) => list[call % list.length],
      start: (chosen) => {
        const n = ++call;
        events.push(`start ${chosen.id}#${n}`);
        return () => events.push(`end ${chosen.id}#${n}`);
      },
    };
    const list = [instance('a'), instance('b')];
    const one = acquireLease(tracing, list);
    const two = acquireLease(tracing, list);
    two.release();
    one.release();
    one.release();
    expect(events).toEqual(['start a#1', 'start b#2', 'end b#2', 'end a#1']);
  });

  it('gives the built-in stateless strategies no per-call bookkeeping', () => {
    for (const strategy of ['round-robin', 'random', 'weighted'] as const) {
      expect(createLoadBalancer(strategy).start).toBeUndefined();
    }
    expect(createLoadBalancer('least-outstanding').start).toBeInstanceOf(Function);
  });
});
