import { OutlierEjector } from './outlier-ejector.js';

describe('OutlierEjector', () => {
  it('ejects after N consecutive failures, for the cool-down only', () => {
    let now = 0;
    const ejector = new OutlierEjector(3, 10_000, () => now);
    ejector.failure('a');
    ejector.failure('a');
    expect(ejector.isEjected('a')).toBe(false);
    ejector.failure('a');
    expect(ejector.isEjected('a')).toBe(true);
    now = 9_999;
    expect(ejector.isEjected('a')).toBe(true);
    now = 10_000;
    expect(ejector.isEjected('a')).toBe(false);
  });

  it('forgives failures that are not consecutive', () => {
    const ejector = new OutlierEjector(2, 1_000, () => 0);
    ejector.failure('a');
    ejector.success('a');
    ejector.failure('a');
    expect(ejector.isEjected('a')).toBe(false);
    expect(ejector.isEjected('b')).toBe(false);
  });
});
