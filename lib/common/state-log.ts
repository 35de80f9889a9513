import type { Logger } from '@nestjs/common';

/** For each state, the states it may move to (a state may always "move" to itself, silently). */
export type Transitions<State extends string> = Readonly<Record<State, readonly State[]>>;

/**
 * Logs a line only when a named state changes ("unreachable" → "registered"), so a loop that
 * retries every second says one thing when Consul goes away and one when it comes back.
 * With a transition table, a move the table does not allow is refused: `enter()` returns
 * `false` and nothing changes (e.g. an answer that arrives after shutdown).
 */
export class StateLog<State extends string> {
  private current?: State;

  constructor(
    private readonly logger: Pick<Logger, 'debug' | 'log' | 'warn' | 'error'>,
    private readonly transitions?: Transitions<State>,
    initial?: State,
  ) {
    this.current = initial;
  }

  get state(): State | undefined {
    return this.current;
  }

  /** Whether `enter(state)` would be accepted now. */
  allows(state: State): boolean {
    if (state === this.current || !this.transitions || this.current === undefined) return true;
    return this.transitions[this.current].includes(state);
  }

  /** Moves to `state` and logs `message` once; `false` (and no line) when the table forbids the move. */
  enter(state: State, level: 'debug' | 'log' | 'warn' | 'error', message: string): boolean {
    if (state === this.current) return true;
    if (!this.allows(state)) return false;
    this.current = state;
    this.logger[level](message);
    return true;
  }
}
