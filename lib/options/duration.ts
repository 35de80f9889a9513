import { ConsulOptionsError } from './consul-options.error.js';

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Consul's longest blocking-query wait: it silently shortens a longer `?wait=` to this. The
 * watches' and the locks' `wait` options are checked against it and never exceed it.
 */
export const MAX_WAIT_MS = 600_000;

// Go's time.ParseDuration grammar, which is what Consul accepts: "1m30s", "500ms", "1.5h".
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/**
 * Parses a Consul-style duration ("500ms", "10s", "1m30s") into milliseconds.
 * Throws a {@link ConsulOptionsError} naming `option` when the value is not a duration.
 */
export function parseDuration(value: unknown, option: string): number {
  const ms = tryParseDuration(value);
  if (ms === undefined) {
    throw new ConsulOptionsError([
      {
        option,
        problem: `${JSON.stringify(value)} is not a duration`,
        fix: 'use a number and a unit, like "500ms", "10s", "1m" or "1m30s"',
      },
    ]);
  }
  return ms;
}

/** Like {@link parseDuration} but returns `undefined` instead of throwing. */
export function tryParseDuration(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  if (value === '0') return 0;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < value.length) {
    const match = PART.exec(value);
    if (!match) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2]];
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Formats milliseconds the way Consul reads them back ("1500ms", "10s", "2m"). */
export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${Math.round(ms)}ms`;
}
