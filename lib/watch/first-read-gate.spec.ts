import { getEventListeners } from 'node:events';
import { FirstReadGate } from './first-read-gate.js';

/** A read the test ends by hand, and a log of when reads started and ended. */
function reads() {
  const log: string[] = [];
  const ends = new Map<string, { resolve: (value: string) => void; reject: (error: Error) => void }>();
  const read = (name: string) => () => {
    log.push(`start ${name}`);
    return new Promise<string>((resolve, reject) => ends.set(name, { resolve, reject }));
  };
  const end = (name: string) => ends.get(name)!.resolve(name);
  const fail = (name: string) => ends.get(name)!.reject(new Error(`${name} failed`));
  return { log, read, end, fail };
}

/** Lets the promise callbacks run. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('FirstReadGate', () => {
  it('starts a read in the same tick below the limit', () => {
    const gate = new FirstReadGate(2);
    const { log, read } = reads();
    void gate.run(read('a'), new AbortController().signal);
    expect(log).toEqual(['start a']);
    expect(gate.inFlight).toBe(1);
  });

  it('keeps at most `limit` reads in flight and starts the waiters first come, first served', async () => {
    const gate = new FirstReadGate(2);
    const { log, read, end } = reads();
    const signal = new AbortController().signal;
    const answers = ['a', 'b', 'c', 'd', 'e'].map((name) => gate.run(read(name), signal));
    expect(log).toEqual(['start a', 'start b']);
    expect(gate.inFlight).toBe(2);
    expect(gate.queued).toBe(3);

    end('b');
    await turn();
    expect(log).toEqual(['start a', 'start b', 'start c']);
    expect(gate.inFlight).toBe(2);

    end('a');
    end('c');
    await turn();
    expect(log).toEqual(['start a', 'start b', 'start c', 'start d', 'start e']);
    expect(gate.inFlight).toBe(2);
    expect(gate.queued).toBe(0);

    end('d');
    end('e');
    await expect(Promise.all(answers)).resolves.toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(gate.inFlight).toBe(0);
  });

  it('frees the slot when a read rejects or throws, and passes the error on', async () => {
    const gate = new FirstReadGate(1);
    const { log, read, fail, end } = reads();
    const signal = new AbortController().signal;
    const failing = gate.run(read('a'), signal);
    const throwing = gate.run(() => {
      log.push('start b');
      throw new Error('b threw');
    }, signal);
    const last = gate.run(read('c'), signal);

    fail('a');
    await expect(failing).rejects.toThrow('a failed');
    await expect(throwing).rejects.toThrow('b threw');
    await turn();
    expect(log).toEqual(['start a', 'start b', 'start c']);
    end('c');
    await expect(last).resolves.toBe('c');
    expect(gate.inFlight).toBe(0);
  });

  it('drops an aborted waiter from the queue without starting it', async () => {
    const gate = new FirstReadGate(1);
    const { log, read, end } = reads();
    const first = gate.run(read('a'), new AbortController().signal);
    const cancelled = new AbortController();
    const dropped = gate.run(read('b'), cancelled.signal);
    const kept = gate.run(read('c'), new AbortController().signal);

    cancelled.abort(new Error('watch stopped'));
    await expect(dropped).rejects.toThrow('watch stopped');
    expect(gate.queued).toBe(1);
    expect(getEventListeners(cancelled.signal, 'abort')).toHaveLength(0);

    end('a');
    await first;
    await turn();
    expect(log).toEqual(['start a', 'start c']);
    end('c');
    await kept;
    expect(gate.inFlight).toBe(0);
  });

  it('frees the slot of a read whose signal aborts, even if the read never settles', async () => {
    const gate = new FirstReadGate(1);
    const { log, read, end } = reads();
    const stopped = new AbortController();
    void gate.run(read('stuck'), stopped.signal);
    const next = gate.run(read('next'), new AbortController().signal);

    stopped.abort();
    expect(log).toEqual(['start stuck', 'start next']);
    expect(gate.inFlight).toBe(1);
    end('next');
    await next;
    expect(gate.inFlight).toBe(0);
  });

  it('rejects at once, without reading, when the signal is already aborted', async () => {
    const gate = new FirstReadGate(1);
    const { log, read } = reads();
    const stopped = new AbortController();
    stopped.abort(new Error('already stopped'));
    await expect(gate.run(read('a'), stopped.signal)).rejects.toThrow('already stopped');
    expect(log).toEqual([]);
    expect(gate.inFlight).toBe(0);
  });

  it('leaves no slot, waiter or abort listener behind', async () => {
    const gate = new FirstReadGate(3);
    const { read, end, fail } = reads();
    const signal = new AbortController().signal;
    const cancelled = new AbortController();
    const settled = Promise.allSettled([
      ...['a', 'b', 'c', 'd', 'e'].map((name) => gate.run(read(name), signal)),
      gate.run(read('f'), cancelled.signal),
    ]);
    cancelled.abort();
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      if (name === 'c') fail(name);
      else end(name);
      await turn();
    }
    await settled;
    expect(gate.inFlight).toBe(0);
    expect(gate.queued).toBe(0);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(cancelled.signal, 'abort')).toHaveLength(0);
  });

  it('refuses a limit below 1', () => {
    expect(() => new FirstReadGate(0)).toThrow(RangeError);
  });
});
