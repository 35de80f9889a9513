import { OtelSdk } from '../../test/helpers/otel.js';
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
    const metrics = new ConsulMetrics();
    metrics.bind(); // no SDK registered: the API's no-op meter
    expect(metrics.recording).toBe(false);
    const { description, reads } = countedDescription();
    const observer = metrics.watch(description);
    observer.request();
    observer.failed(new Error('refused'));
    observer.answered(7);
    expect(reads()).toBe(0);
    expect(observer).toMatchObject({ requests: 1, errors: 1, index: 7, lastError: { message: 'refused' } });
    observer.closed();
    expect(metrics.watches.size).toBe(0);
  });

  it('builds them once, on first use, when an SDK records: the counters carry them', async () => {
    const sdk = OtelSdk.start({ traces: false });
    try {
      const metrics = new ConsulMetrics();
      metrics.bind(); // as each app does when it is created, with the SDK already started
      const { description, reads } = countedDescription();
      const observer = metrics.watch(description);
      observer.request();
      const afterFirst = reads();
      observer.request();
      observer.failed(new Error('reset'));
      expect(afterFirst).toBeGreaterThan(0);
      expect(reads()).toBe(afterFirst);
      const attributes = {
        'consul.watch.kind': 'service',
        'consul.watch.query': 'service "billing"',
        'consul.service': 'billing',
      };
      const points = (await sdk.collect()).filter((p) => p.name.startsWith('consul.watch.'));
      expect(points).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'consul.watch.requests', attributes, value: 2 }),
          expect.objectContaining({ name: 'consul.watch.errors', attributes, value: 1 }),
        ]),
      );
      observer.closed();
    } finally {
      await sdk.shutdown();
    }
  });
});
