/** Percentile of already-sorted numbers (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summary(samples: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = samples.toSorted((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

/** Runs `fn` back to back for `ms` and returns calls per second. */
export async function rate(fn: () => unknown, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let calls = 0;
  let now = performance.now();
  while (now < end) {
    for (let i = 0; i < 100; i++) await fn();
    calls += 100;
    now = performance.now();
  }
  return calls / ((ms + (now - end)) / 1000);
}

/**
 * Runs `count` calls of `fn`, `concurrency` at a time; calls per second, latency percentiles (ms),
 * and this process's CPU time per call (µs, user + system): steadier than calls per second on a
 * machine shared with other work, since time spent waiting for a core is not counted.
 */
export async function load(fn: () => Promise<unknown>, count: number, concurrency: number) {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const t = performance.now();
        await fn();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    perSecond: latencies.length / seconds,
    cpuPerCall: (used.user + used.system) / latencies.length,
    ...summary(latencies),
  };
}

export const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';

/** A Markdown table. */
export function table(title: string, header: string[], rows: string[][], notes: string[] = []): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `### ${title}`,
    '',
    line(header),
    line(header.map(() => '---')),
    ...rows.map(line),
    '',
    ...notes.map((n) => `${n}`),
    '',
  ].join('\n');
}

/** Median, min and max of some numbers. */
export function spread(values: readonly number[]): { median: number; min: number; max: number } {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** "median (min–max)" of `values`. */
export function range(values: readonly number[], digits = 0): string {
  const { median, min, max } = spread(values);
  return `${fmt(median, digits)} (${fmt(min, digits)}–${fmt(max, digits)})`;
}

/** "median% (min–max%)" of ratios. */
export function percent(ratios: readonly number[]): string {
  const { median, min, max } = spread(ratios.map((r) => 100 * r));
  return `${fmt(median)}% (${fmt(min)}–${fmt(max)}%)`;
}

/**
 * Runs two measurements in turns, `rounds` times each, after one warm-up run of each: the
 * machine's drift (other processes, thermal, GC) then falls on both sides alike. The order
 * swaps every round (A B, B A, A B…) so neither side always runs right after the other.
 */
export async function interleave<T>(
  a: () => Promise<T>,
  b: () => Promise<T>,
  rounds: number,
): Promise<{ a: T[]; b: T[] }> {
  await a();
  await b();
  const result = { a: [] as T[], b: [] as T[] };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      result.a.push(await a());
      result.b.push(await b());
    } else {
      result.b.push(await b());
      result.a.push(await a());
    }
  }
  return result;
}
