import type { Logger } from '@nestjs/common';
import { StateLog, type Transitions } from '../common/state-log.js';

/**
 * Where this instance stands with Consul. The registrar keeps nothing else about it: `isRegistered`
 * and `whenRegistered()` are read from here, and every change is one log line.
 *
 * - `idle`: nothing started yet (or registration is manual: `registration.enabled: false`).
 * - `waiting`: waiting for the app to be reachable (listening, port open, gRPC health served), then the first attempt.
 * - `failing` / `unreachable`: an attempt failed (Consul refused or erred / did not answer); retrying with backoff.
 * - `registered`: Consul has it, as far as we last asked.
 * - `unconfirmed` / `out-of-reach`: registered, but the last keep-alive read failed (the agent erred / did not
 *   answer); asking again with backoff. Still counted as registered: nothing says Consul lost it.
 * - `lost`: the agent no longer knows it (restarted without its state); registering it again.
 * - `leaving`: shutdown of a registered instance: maintenance, drain delay, deregistration.
 * - `deregistered`: removed from Consul (on shutdown, or `deregister()` by hand).
 * - `stopped`: shut down without (or failing at) deregistration; final.
 */
export const REGISTRATION_STATES = [
  'idle',
  'waiting',
  'failing',
  'unreachable',
  'registered',
  'unconfirmed',
  'out-of-reach',
  'lost',
  'leaving',
  'deregistered',
  'stopped',
] as const;

export type RegistrationState = (typeof REGISTRATION_STATES)[number];

const KEPT: readonly RegistrationState[] = [
  'registered',
  'unconfirmed',
  'out-of-reach',
  'lost',
  'leaving',
  'deregistered',
];

/** Every allowed move. Anything else is refused, so a late answer cannot undo a shutdown. */
export const REGISTRATION_TRANSITIONS: Transitions<RegistrationState> = {
  idle: ['waiting', 'registered', 'stopped'],
  waiting: ['registered', 'failing', 'unreachable', 'stopped'],
  failing: ['registered', 'unreachable', 'deregistered', 'stopped'],
  unreachable: ['registered', 'failing', 'deregistered', 'stopped'],
  registered: KEPT,
  unconfirmed: KEPT,
  'out-of-reach': KEPT,
  lost: ['registered', 'failing', 'unreachable', 'deregistered', 'stopped'],
  leaving: ['deregistered', 'stopped'],
  deregistered: ['registered', 'stopped'],
  stopped: [],
};

const REGISTERED: ReadonlySet<RegistrationState> = new Set(['registered', 'unconfirmed', 'out-of-reach', 'leaving']);

/** The registrar's one state, with its log lines and the `whenRegistered()` waiters. */
export class RegistrationStateMachine {
  private readonly log: StateLog<RegistrationState>;
  private readonly waiters: Array<() => void> = [];
  private wasRegistered = false;
  /** When the current state was entered. */
  since = new Date();
  /** Registrations after the first one (the agent lost the instance, or deregister() then register()). */
  reregistrations = 0;

  constructor(logger: Pick<Logger, 'debug' | 'log' | 'warn' | 'error'>) {
    this.log = new StateLog(logger, REGISTRATION_TRANSITIONS, 'idle');
  }

  get state(): RegistrationState {
    return this.log.state!;
  }

  /** Consul has the instance, as far as we last saw. */
  get isRegistered(): boolean {
    return REGISTERED.has(this.state);
  }

  allows(next: RegistrationState): boolean {
    return this.log.allows(next);
  }

  /** Moves to `next` with one log line; `false` when the table forbids the move (nothing changes). */
  to(next: RegistrationState, level: 'debug' | 'log' | 'warn' | 'error', message: string): boolean {
    const was = this.state;
    if (!this.log.enter(next, level, message)) return false;
    if (next !== was) this.since = new Date();
    if (next === 'registered' && !REGISTERED.has(was)) {
      if (this.wasRegistered) this.reregistrations++;
      this.wasRegistered = true;
    }
    if (next === 'registered') this.waiters.splice(0).forEach((resolve) => resolve());
    return true;
  }

  whenRegistered(): Promise<void> {
    if (this.isRegistered) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
