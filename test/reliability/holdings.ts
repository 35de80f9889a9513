import type { FleetEvent, ProcessFleet } from '../helpers/process-fleet.js';

/** What a fixture holding a lock or semaphore slot prints (semaphore-app.mjs, lock-churn-app.mjs). */
export interface HoldEvent extends FleetEvent {
  event: 'started' | 'acquired' | 'released' | 'abort' | 'error';
  token?: number;
}

/** One holding: from its `acquired` to its `released`, `abort` or SIGKILL (a killed process cannot act any more). */
export interface Holding {
  start: number;
  end: number;
  token?: number;
}

export function holdings(fleet: ProcessFleet<HoldEvent>): Holding[] {
  const held: Holding[] = [];
  for (const grant of fleet.events.filter((e) => e.event === 'acquired')) {
    const end = fleet.events.find(
      (e) => e.name === grant.name && e.t >= grant.t && e !== grant && (e.event === 'released' || e.event === 'abort'),
    );
    const killed = fleet.killedAt.get(grant.name);
    const killedEnd = killed !== undefined && killed >= grant.t ? killed : Infinity;
    held.push({ start: grant.t, end: Math.min(end?.t ?? Infinity, killedEnd), token: grant.token });
  }
  return held;
}

/** The most holdings that overlap at one instant. */
export function mostAtOnce(held: Holding[]): number {
  // Ends before starts at the same millisecond: a slot handed over is not held twice.
  const edges = held.flatMap(({ start, end }) => [
    [start, 1],
    [end, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, step] of edges) most = Math.max(most, (now += step));
  return most;
}

/** The longest time, between the first start and the last end, with no holding at all. */
export function longestIdle(held: Holding[]): number {
  const sorted = held.toSorted((a, b) => a.start - b.start);
  let longest = 0;
  let coveredUntil = sorted[0]?.end ?? 0;
  for (const { start, end } of sorted.slice(1)) {
    longest = Math.max(longest, start - coveredUntil);
    coveredUntil = Math.max(coveredUntil, end);
  }
  return longest;
}
