import type { Backoff } from './backoff.js';
import { sleep, type WakeSource } from './sleep.js';

/** What an attempt of {@link retryUntil} returns to ask for another try without an error (not ready yet). */
export const AGAIN: unique symbol = Symbol('again');

export interface RetryOptions {
  /** The delays between attempts (`reset()` is the caller's). */
  backoff: Pick<Backoff, 'next'>;
  /** Ends the retries: no attempt starts after it aborts, and a wait ends at once. */
  signal: AbortSignal;
  /** Whether a failure is worth another attempt; any other is thrown at once. Default: every failure. */
  retryable?: (error: unknown) => boolean;
  /** Each retryable failure, before the wait (not called once `signal` has aborted). */
  onFailure?: (error: unknown) => void;
  /** Ends a wait early, to try again now (the agent answers again). */
  wake?: WakeSource;
}

/**
 * Runs `attempt` until it returns a value (other than {@link AGAIN}), waiting `backoff.next()`
 * between attempts. Resolves `undefined` once `signal` aborts; rejects with the first failure
 * `retryable` refuses. One loop for every "until it works" of the module, so each keeps only its
 * own attempt, its own log line and its own idea of a retryable failure.
 */
export async function retryUntil<T>(
  attempt: () => Promise<T | typeof AGAIN>,
  { backoff, signal, retryable = () => true, onFailure, wake }: RetryOptions,
): Promise<T | undefined> {
  while (!signal.aborted) {
    try {
      const result = await attempt();
      if (result !== AGAIN) return result;
    } catch (error) {
      if (!retryable(error)) throw error;
      if (signal.aborted) return undefined;
      onFailure?.(error);
    }
    if (!(await sleep(backoff.next(), signal, wake))) return undefined;
  }
  return undefined;
}
