const abortedOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
const reasonOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'reason')!.get!;
const throwIfAbortedOf = AbortSignal.prototype.throwIfAborted;

/**
 * Makes every read of `signal` (`aborted`, `reason`, `throwIfAborted()`) first run `expireIfDue`,
 * which aborts it when its deadline has passed. The timer that aborts a held signal at its deadline
 * runs late after a pause (GC, SIGSTOP, a frozen VM): the process wakes with timers overdue, and an
 * I/O callback or an earlier timer may run first. A job that checks `signal.aborted` before it acts
 * must then see the abort, not the stale flag.
 *
 * The signal stays a real AbortSignal (events, `AbortSignal.any`, undici and fetch take it as is):
 * only the three reads are own properties of this instance, calling the standard accessors after
 * the check. A signal derived from it (`AbortSignal.any([signal])`) aborts when it does.
 */
export function withDeadlineReads(signal: AbortSignal, expireIfDue: () => void): AbortSignal {
  Object.defineProperties(signal, {
    aborted: {
      get(this: AbortSignal): boolean {
        expireIfDue();
        return abortedOf.call(this) as boolean;
      },
    },
    reason: {
      get(this: AbortSignal): unknown {
        expireIfDue();
        return reasonOf.call(this);
      },
    },
    throwIfAborted: {
      value(this: AbortSignal): void {
        expireIfDue();
        throwIfAbortedOf.call(this);
      },
    },
  });
  return signal;
}
