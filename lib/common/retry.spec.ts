import { AGAIN, retryUntil } from './retry.js';

const noWait = { next: () => 0 };

describe('retryUntil', () => {
  it('retries failures and AGAIN until an attempt returns a value', async () => {
    const seen: unknown[] = [];
    let calls = 0;
    const result = await retryUntil(
      async () => {
        calls++;
        if (calls === 1) throw new Error('down');
        if (calls === 2) return AGAIN;
        return 'up';
      },
      { backoff: noWait, signal: new AbortController().signal, onFailure: (error) => seen.push(error) },
    );
    expect(result).toBe('up');
    expect(calls).toBe(3);
    expect(seen).toEqual([new Error('down')]);
  });

  it('throws at once a failure that is not retryable', async () => {
    let calls = 0;
    const run = retryUntil(
      async () => {
        calls++;
        throw new Error('forbidden');
      },
      { backoff: noWait, signal: new AbortController().signal, retryable: () => false },
    );
    await expect(run).rejects.toThrow('forbidden');
    expect(calls).toBe(1);
  });

  it('resolves undefined when the signal aborts, during a wait or before an attempt', async () => {
    const stop = new AbortController();
    const waiting = retryUntil(async () => AGAIN, { backoff: { next: () => 60_000 }, signal: stop.signal });
    stop.abort();
    await expect(waiting).resolves.toBeUndefined();
    let calls = 0;
    await expect(retryUntil(async () => ++calls, { backoff: noWait, signal: stop.signal })).resolves.toBeUndefined();
    expect(calls).toBe(0);
  });

  it('does not report a failure that comes after the abort', async () => {
    const stop = new AbortController();
    const seen: unknown[] = [];
    const result = await retryUntil(
      async () => {
        stop.abort();
        throw new Error('aborted');
      },
      { backoff: noWait, signal: stop.signal, onFailure: (error) => seen.push(error) },
    );
    expect(result).toBeUndefined();
    expect(seen).toEqual([]);
  });
});
