import { IdleLeases } from './idle-leases.js';
import { WatchRegistry } from './watch-registry.js';

class FakeLoop {
  running = false;
  start() {
    this.running = true;
  }
  stop() {
    this.running = false;
  }
}

describe('IdleLeases', () => {
  function setup() {
    const registry = new WatchRegistry<FakeLoop>();
    const released: string[] = [];
    const leases = new IdleLeases(registry, 60_000, (lease) => released.push(lease.key));
    return { registry, leases, released };
  }

  it('keeps a lease used in every sweep period, and releases one unused for a whole period', () => {
    const { registry, leases, released } = setup();
    const busy = leases.use('busy', () => new FakeLoop());
    const oneOff = leases.use('one-off', () => new FakeLoop());
    leases.sweep(); // both were used in this period
    expect(registry.size).toBe(2);
    leases.use('busy', () => new FakeLoop());
    leases.sweep();
    expect(released).toEqual(['one-off']);
    expect(oneOff.released).toBe(true);
    expect(oneOff.loop.running).toBe(false);
    expect(busy.loop.running).toBe(true);
    expect(registry.size).toBe(1);
    leases.clear();
  });

  it('releases only its own lease: a loop someone else also leases keeps running', () => {
    const { registry, leases } = setup();
    const subscriber = registry.acquire('shared', () => new FakeLoop()); // a watch() subscriber
    const lease = leases.use('shared', () => new FakeLoop());
    expect(lease.loop).toBe(subscriber.loop);
    leases.sweep();
    leases.sweep();
    expect(lease.released).toBe(true);
    expect(subscriber.loop.running).toBe(true);
    subscriber.release();
    expect(subscriber.loop.running).toBe(false);
  });

  it('starts again with a new loop after a release', () => {
    const { leases } = setup();
    const first = leases.use('a', () => new FakeLoop());
    leases.sweep();
    leases.sweep();
    const second = leases.use('a', () => new FakeLoop());
    expect(second.loop).not.toBe(first.loop);
    expect(second.loop.running).toBe(true);
    leases.clear();
  });
});
