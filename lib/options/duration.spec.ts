import { ConsulOptionsError } from './consul-options.error.js';
import { formatDuration, parseDuration, tryParseDuration } from './duration.js';

describe('Consul durations', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['2us', 0.002],
    ['0', 0],
  ])('parses %s', (text, ms) => expect(tryParseDuration(text)).toBeCloseTo(ms, 6));

  it.each(['', '10', 'ten', '1x', '-1s', '1s ', ' 1s', '1s2'])('rejects %j', (text) => {
    expect(tryParseDuration(text)).toBeUndefined();
  });

  it.each([10, undefined, null, {}])('rejects non-strings like %j', (value) =>
    expect(tryParseDuration(value)).toBeUndefined(),
  );

  it('names the option when it throws', () => {
    const error = (() => {
      try {
        parseDuration('soon', 'service.check.interval');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as Error).message).toContain('service.check.interval: "soon" is not a duration');
  });

  it.each([500, 1_000, 10_000, 60_000, 90_000, 1_500])('formats %i ms so Consul reads it back the same', (ms) => {
    expect(tryParseDuration(formatDuration(ms))).toBe(ms);
  });
});
