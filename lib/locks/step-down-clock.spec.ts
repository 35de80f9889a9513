import { earliest, later, latest, msUntil } from './step-down-clock.js';

describe('step-down clock', () => {
  const at = { mono: 1_000, wall: 1_700_000_000_000 };

  it('counts down on both clocks alike when neither jumps', () => {
    expect(msUntil(later(at, 500), { mono: 1_200, wall: at.wall + 200 })).toBe(300);
  });

  it('a wall clock that ran on while the monotonic one stood still (a suspended VM) passes the deadline', () => {
    expect(msUntil(later(at, 500), { mono: 1_100, wall: at.wall + 6_000 })).toBe(-5_500);
  });

  it('a wall clock stepped back does not extend the deadline: the monotonic one still ends it', () => {
    expect(msUntil(later(at, 500), { mono: 1_600, wall: at.wall - 60_000 })).toBe(-100);
  });

  it('earliest and latest go clock by clock', () => {
    const a = { mono: 1, wall: 20 };
    const b = { mono: 2, wall: 10 };
    expect(earliest(a, b)).toEqual({ mono: 1, wall: 10 });
    expect(earliest(a, undefined)).toBe(a);
    expect(latest(a, b)).toEqual({ mono: 2, wall: 20 });
  });
});
