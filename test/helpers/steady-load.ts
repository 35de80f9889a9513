/** One call of a steady load: when it started, how long it took, and why it failed (if it did). */
export interface CallRecord {
  at: number;
  ms: number;
  error?: string;
}

export interface SteadyLoad {
  /** Resolves with every call once the duration is over and the last call has settled. */
  done: Promise<CallRecord[]>;
  /** Calls so far (settled or not). */
  readonly started: number;
}

/**
 * An open-loop caller: starts `call` `perSecond` times a second for `durationMs`, whether or
 * not earlier calls have returned (a slow instance cannot slow the load down and hide failures).
 * Bounded: at most perSecond × duration calls, and each call is abandoned after `callTimeoutMs`.
 */
export function steadyLoad({
  perSecond,
  durationMs,
  call,
  callTimeoutMs = 10_000,
}: {
  perSecond: number;
  durationMs: number;
  call: () => Promise<unknown>;
  callTimeoutMs?: number;
}): SteadyLoad {
  const total = Math.floor((perSecond * durationMs) / 1000);
  const records: Array<Promise<CallRecord>> = [];
  const start = Date.now();
  const one = async (): Promise<CallRecord> => {
    const at = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${callTimeoutMs} ms`)), callTimeoutMs);
    });
    try {
      await Promise.race([call(), timeout]);
      return { at, ms: Date.now() - at };
    } catch (error) {
      return { at, ms: Date.now() - at, error: (error as Error)?.message ?? String(error) };
    } finally {
      clearTimeout(timer);
    }
  };
  const done = new Promise<CallRecord[]>((resolve) => {
    // Catch up on a late tick (a busy event loop) rather than drift: call n starts at start + n/rate.
    const tick = () => {
      const due = Math.min(total, Math.floor(((Date.now() - start) * perSecond) / 1000) + 1);
      while (records.length < due) records.push(one());
      if (records.length >= total) {
        void Promise.all(records).then(resolve);
        return;
      }
      setTimeout(tick, Math.max(1, start + (records.length * 1000) / perSecond - Date.now()));
    };
    tick();
  });
  return {
    done,
    get started() {
      return records.length;
    },
  };
}

/** Failed calls, grouped by message, for a readable assertion failure. */
export function failureSummary(records: CallRecord[]): Record<string, number> {
  const summary: Record<string, number> = {};
  for (const record of records) if (record.error) summary[record.error] = (summary[record.error] ?? 0) + 1;
  return summary;
}
