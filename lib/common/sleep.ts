/** Subscribes a listener to some event; returns the unsubscribe function. */
export type WakeSource = (listener: () => void) => () => void;

/**
 * Resolves after `ms` (with `true`), earlier when `wake` fires (also `true`: time to try again),
 * or at once with `false` when `signal` aborts. Never rejects.
 */
export function sleep(ms: number, signal?: AbortSignal, wake?: WakeSource): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (result: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unsubscribe?.();
      resolve(result);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    const unsubscribe = wake?.(() => finish(true));
  });
}
