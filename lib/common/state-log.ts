import type { Logger } from '@nestjs/common';

/**
 * Logs a line only when a named state changes ("unreachable" → "registered"), so a loop that
 * retries every second says one thing when Consul goes away and one when it comes back.
 */
export class StateLog<State extends string> {
  private current?: State;

  constructor(private readonly logger: Logger) {}

  get state(): State | undefined {
    return this.current;
  }

  enter(state: State, level: 'debug' | 'log' | 'warn' | 'error', message: string): void {
    if (state === this.current) return;
    this.current = state;
    this.logger[level](message);
  }
}
