import { withDeadlineReads } from './deadline-signal.js';

describe('withDeadlineReads', () => {
  function held() {
    const controller = new AbortController();
    let due = false;
    const signal = withDeadlineReads(AbortSignal.any([controller.signal]), () => {
      if (due && !controller.signal.aborted) controller.abort(new Error('deadline passed'));
    });
    return { signal, pass: () => (due = true) };
  }

  it('is not aborted before its deadline', () => {
    const { signal } = held();
    expect(signal.aborted).toBe(false);
    expect(() => signal.throwIfAborted()).not.toThrow();
  });

  it('aborts at the first read past the deadline, with the listeners called before the read returns', () => {
    const { signal, pass } = held();
    const heard: string[] = [];
    signal.addEventListener('abort', () => heard.push('abort'));
    pass();
    expect(signal.aborted).toBe(true);
    expect(heard).toEqual(['abort']);
    expect((signal.reason as Error).message).toBe('deadline passed');
  });

  it('checks the deadline in reason and throwIfAborted() too', () => {
    const first = held();
    first.pass();
    expect((first.signal.reason as Error).message).toBe('deadline passed');
    const second = held();
    second.pass();
    expect(() => second.signal.throwIfAborted()).toThrow('deadline passed');
  });

  it('stays a real AbortSignal: a derived signal aborts with it', () => {
    const { signal, pass } = held();
    const derived = AbortSignal.any([signal]);
    expect(signal).toBeInstanceOf(AbortSignal);
    pass();
    void signal.aborted;
    expect(derived.aborted).toBe(true);
  });
});
