import { EventEmitter } from 'node:events';

/**
 * The time limit of one HTTP attempt, as the `signal` undici's `request()` accepts (an
 * EventEmitter that emits `abort`): from the call until the body is read, like
 * `AbortSignal.timeout`, at a fraction of its cost. A Node `AbortSignal` costs microseconds to
 * make (an EventTarget, a weak reference for its timer); this is one plain emitter and one
 * timer from Node's timer lists, paid on every request of a hot path.
 */
export class RequestDeadline extends EventEmitter {
  /** Whether the time ran out (the abort was ours, not the connection's). */
  timedOut = false;
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number) {
    super();
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.emit('abort');
    }, ms);
    // A request in flight keeps the process alive through its socket already.
    this.timer.unref();
  }

  /** The attempt ended: the timer goes. */
  clear(): void {
    clearTimeout(this.timer);
  }
}
