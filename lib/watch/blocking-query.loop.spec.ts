import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { BlockingQueryLoop, type BlockingResult } from './blocking-query.loop.js';

/** A scripted Consul: answers requests in order, and records the index each one carried. */
function scripted<T>(answers: Array<BlockingResult<T> | Error>) {
  const sent: number[] = [];
  const fetch = async (index: number, _waitMs: number, signal: AbortSignal): Promise<BlockingResult<T>> => {
    sent.push(index);
    const next = answers.shift();
    if (next === undefined) {
      // Out of script: block like a quiet Consul until stopped.
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      throw new Error('aborted');
    }
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, sent };
}

const silent = new Logger('test');
silent.log = silent.warn = () => undefined;
const options = {
  name: 'test',
  waitMs: 1_000,
  rateLimit: { perSecond: 1_000, burst: 1_000 },
  backoff: { initialMs: 1, maxMs: 2 },
  equals: (a: string, b: string) => a === b,
  logger: silent,
};
/** Lets the loop run for `ms` of fake time: its backoff and rate-limit sleeps, and every answer in between. */
const settle = (ms = 30) => jest.advanceTimersByTimeAsync(ms);

describe('BlockingQueryLoop', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('primes without an index, then blocks on the last index', async () => {
    const consul = scripted([
      { value: 'a', index: 10 },
      { value: 'b', index: 12 },
    ]);
    const loop = new BlockingQueryLoop(consul.fetch, options);
    loop.start();
    await settle();
    loop.stop();
    expect(consul.sent).toEqual([0, 10, 12]);
    expect(loop.current).toBe('b');
  });

  it('says it is watching when a seeded loop starts, not when its first blocking read returns', async () => {
    const lines: string[] = [];
    const logger = new Logger('test');
    logger.log = (message: string) => void lines.push(message);
    const consul = scripted<string>([]); // Consul stays quiet: the blocking read never returns
    const loop = new BlockingQueryLoop(consul.fetch, { ...options, logger, seed: { value: 'boot', index: 7 } });
    loop.start();
    await settle();
    loop.stop();
    expect(consul.sent).toEqual([7]);
    expect(lines).toEqual(['Watching test']);
  });

  it('starts over (non-blocking) when the index goes backwards, and never blocks on index 0', async () => {
    const consul = scripted([
      { value: 'a', index: 10 },
      { value: 'a', index: 4 }, // snapshot restore: backwards
      { value: 'a', index: 5 },
      { value: 'a', index: 0 }, // a buggy 0: must become 1, not a tight loop of non-blocking reads
    ]);
    const loop = new BlockingQueryLoop(consul.fetch, options);
    loop.start();
    await settle();
    loop.stop();
    expect(consul.sent).toEqual([0, 10, 0, 5, 1]);
  });

  it('starts blocking on a seed and does not emit it', async () => {
    const consul = scripted([
      { value: 'seeded', index: 7 },
      { value: 'new', index: 8 },
    ]);
    const loop = new BlockingQueryLoop(consul.fetch, { ...options, seed: { value: 'seeded', index: 7 } });
    const seen: string[] = [];
    loop.onChange((value) => seen.push(value));
    expect(loop.current).toBe('seeded');
    loop.start();
    await settle();
    loop.stop();
    expect(consul.sent).toEqual([7, 7, 8]);
    expect(seen).toEqual(['new']);
  });

  it('tells listeners only about real changes', async () => {
    const consul = scripted([
      { value: 'a', index: 1 },
      { value: 'a', index: 2 },
      { value: 'b', index: 3 },
      { value: 'b', index: 4 },
    ]);
    const loop = new BlockingQueryLoop(consul.fetch, options);
    const seen: string[] = [];
    loop.onChange((value) => seen.push(value));
    loop.start();
    await settle();
    loop.stop();
    expect(seen).toEqual(['a', 'b']);
  });

  it('keeps the last good value through errors, retries, and resolves ready() once data comes', async () => {
    const consul = scripted<string>([
      new Error('refused'),
      { value: 'a', index: 1 },
      new Error('reset'),
      new Error('reset'),
    ]);
    const loop = new BlockingQueryLoop(consul.fetch, options);
    const firstReady = loop.ready();
    loop.start();
    await expect(firstReady).rejects.toThrow('refused');
    expect(consul.sent).toEqual([0]); // the retry waits for its backoff, on the fake clock
    const secondReady = loop.ready();
    await settle();
    await expect(secondReady).resolves.toBe('a');
    expect(loop.current).toBe('a');
    // After each failure the next read is non-blocking: the agent may have restarted with a lower index.
    expect(consul.sent).toEqual([0, 0, 1, 0, 0]);
    expect(loop.requests).toBe(5); // never gives up: 4 scripted answers + the one blocking now
    loop.stop();
  });

  it('goes on after a listener throws: the answer counts as a failure, and the next read starts over', async () => {
    const consul = scripted([
      { value: 'a', index: 10 },
      { value: 'b', index: 11 },
    ]);
    const loop = new BlockingQueryLoop(consul.fetch, options);
    const seen: string[] = [];
    loop.onChange((value) => {
      seen.push(value);
      if (value === 'a') throw new Error('listener bug');
    });
    loop.start();
    await settle();
    loop.stop();
    expect(seen).toEqual(['a', 'b']);
    // After the throw the loop reads without an index, as after any failure, and is blocking again.
    expect(consul.sent).toEqual([0, 0, 11]);
  });

  it('is rate limited: an index that churns cannot spin the loop', async () => {
    const churn = Array.from({ length: 1_000 }, (_, i) => ({ value: 'same', index: i + 1 }));
    const consul = scripted(churn);
    const loop = new BlockingQueryLoop(consul.fetch, { ...options, rateLimit: { perSecond: 20, burst: 5 } });
    loop.start();
    await settle(500);
    loop.stop();
    // 5 at once plus 20/s for 0.5 s; without the bucket it would be all 1,000.
    expect(consul.sent.length).toBe(15);
  });

  it('stop() rejects pending ready() calls and ends the loop', async () => {
    const consul = scripted<string>([]);
    const loop = new BlockingQueryLoop(consul.fetch, options);
    loop.start();
    const pending = loop.ready();
    loop.stop();
    await expect(pending).rejects.toThrow('watch of test was stopped');
    await settle();
    expect(consul.sent).toEqual([0]);
  });
});
