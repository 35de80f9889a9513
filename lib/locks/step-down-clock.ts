/**
 * A moment read on two clocks at once. The monotonic clock (`performance.now()`) ignores wall-clock
 * steps, but on Linux it stops while the machine or VM is suspended; the wall clock (`Date.now()`)
 * runs on through a suspend but may be stepped. Consul's servers expire a session by their own
 * clock, which ran through our pause either way, so a holder counts on its session only while
 * **both** clocks say the deadline is ahead: a step of either clock can only make it step down early.
 */
export interface Instant {
  readonly mono: number;
  readonly wall: number;
}

export function now(): Instant {
  return { mono: performance.now(), wall: Date.now() };
}

export function later(instant: Instant, ms: number): Instant {
  return { mono: instant.mono + ms, wall: instant.wall + ms };
}

/** Milliseconds until `deadline` by whichever clock is closer to it (≤ 0: passed). */
export function msUntil(deadline: Instant, at: Instant = now()): number {
  return Math.min(deadline.mono - at.mono, deadline.wall - at.wall);
}

/** The earlier of two deadlines, clock by clock. */
export function earliest(a: Instant, b: Instant | undefined): Instant {
  return b ? { mono: Math.min(a.mono, b.mono), wall: Math.min(a.wall, b.wall) } : a;
}

/** The later of two instants, clock by clock (a newer confirmation never moves a deadline back). */
export function latest(a: Instant, b: Instant): Instant {
  return { mono: Math.max(a.mono, b.mono), wall: Math.max(a.wall, b.wall) };
}

export const NEVER: Instant = { mono: -Infinity, wall: -Infinity };
