import { ConsulMetrics } from './consul-metrics.js';
import type { WatchDescription } from './watch-observer.js';

/** A description that counts how often its fields are read: building the metric attributes reads them. */
function countedDescription(): { description: WatchDescription; reads: () => number } {
  let reads = 0;
  const fields: WatchDescription = { kind: 'service', query: 'service "billing"', service: 'billing' };
  const description = new Proxy(fields, {
    get(target, key) {
      if (key === 'kind' || key === 'query') reads++;
      return target[key as keyof WatchDescription];
    },
  });
  return { description, reads: () => reads };
}

describe('WatchObserver', () => {
  it('builds no metric attributes while no MeterProvider records: a thousand watches hold none', () => {
    const metrics = new ConsulMetrics(); // never bound: the counters are the no-ops
    const { description, reads } = countedDescription();
    const observer = metrics.watch(description, {});
    observer.request();
    observer.failed(new Error('refused'));
    observer.answered(7);
    expect(reads()).toBe(0);
    expect(observer).toMatchObject({ requests: 1, errors: 1, index: 7, lastError: { message: 'refused' } });
    observer.closed();
    expect(metrics.watches.size).toBe(0);
  });

  it('builds them once, on first use, when metrics are recorded', () => {
    const metrics = new ConsulMetrics();
    metrics.recording = true; // as bind() sets it with an SDK's MeterProvider
    const { description, reads } = countedDescription();
    const observer = metrics.watch(description, {});
    observer.request();
    const afterFirst = reads();
    observer.request();
    observer.failed(new Error('reset'));
    expect(afterFirst).toBeGreaterThan(0);
    expect(reads()).toBe(afterFirst);
    expect(observer.attributes).toEqual({
      'consul.watch.kind': 'service',
      'consul.watch.query': 'service "billing"',
      'consul.service': 'billing',
    });
  });
});
