import { describe, type SectionKeys, type Validator } from './validator.js';

/** Exponential backoff between attempts (with jitter). */
export interface ConsulRetryOptions {
  /** First delay after a failure. @default "1s" */
  initialDelay?: string;
  /** Longest delay between attempts. @default "30s" */
  maxDelay?: string;
  /** Growth of the delay per failed attempt. @default 2 */
  factor?: number;
}

const KEYS: SectionKeys<ConsulRetryOptions> = { initialDelay: true, maxDelay: true, factor: true };

/** A `retry` section at `path` (registration's, discovery's), with that section's defaults. */
export function resolveRetryOptions(
  parent: Validator,
  raw: unknown,
  defaults: { initialDelay: string; maxDelay: string },
) {
  const v = parent.at('retry');
  const retry = parent.section<ConsulRetryOptions>(raw, 'retry', KEYS);
  const initialDelayMs = v.duration(retry.initialDelay, 'initialDelay', defaults.initialDelay, { positive: true });
  const maxDelayMs = v.duration(retry.maxDelay, 'maxDelay', defaults.maxDelay, { positive: true });
  if (maxDelayMs < initialDelayMs) {
    v.fail('maxDelay', `${describe(retry.maxDelay ?? defaults.maxDelay)} is shorter than initialDelay`);
  }
  let factor = 2;
  if (retry.factor !== undefined) {
    if (typeof retry.factor === 'number' && Number.isFinite(retry.factor) && retry.factor >= 1) factor = retry.factor;
    else v.fail('factor', `${describe(retry.factor)} is not a number ≥ 1`);
  }
  return { initialDelayMs, maxDelayMs, factor };
}

export type ResolvedRetryOptions = ReturnType<typeof resolveRetryOptions>;
