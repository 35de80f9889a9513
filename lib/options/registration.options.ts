import { type ConsulRetryOptions, resolveRetryOptions } from './retry.options.js';
import type { SectionKeys, Validator } from './validator.js';

export interface ConsulRegistrationOptions {
  /** Register automatically once the app listens; `false` leaves it to `ConsulRegistrar`. @default true */
  enabled?: boolean;
  /** Fail bootstrap when Consul is unreachable (or the token is refused); `false`: boot, retry in the background. @default false */
  failFast?: boolean;
  /** Backoff between registration attempts. @default { initialDelay: "1s", maxDelay: "30s", factor: 2 } */
  retry?: ConsulRetryOptions;
  /** How often to check the agent still knows this instance (and re-register if not). @default "30s" */
  reconcileInterval?: string;
  /** On shutdown, time between entering maintenance and deregistering, so callers stop picking this instance. @default "0s" */
  drainDelay?: string;
}

const KEYS: SectionKeys<ConsulRegistrationOptions> = {
  enabled: true,
  failFast: true,
  retry: true,
  reconcileInterval: true,
  drainDelay: true,
};

/** `registration`: when and how this app registers. `hasService`: there is something to register. */
export function resolveRegistrationOptions(parent: Validator, raw: unknown, hasService: boolean) {
  const v = parent.at('registration');
  const registration = parent.section<ConsulRegistrationOptions>(raw, 'registration', KEYS);
  if (!hasService && registration.enabled === true) {
    v.fail('enabled', 'is true but there is no service to register: add service: { name: "..." }');
  }
  return {
    enabled: v.boolean(registration.enabled, 'enabled', true) && hasService,
    failFast: v.boolean(registration.failFast, 'failFast', false),
    retry: resolveRetryOptions(v, registration.retry, { initialDelay: '1s', maxDelay: '30s' }),
    reconcileIntervalMs: v.duration(registration.reconcileInterval, 'reconcileInterval', '30s', { positive: true }),
    drainDelayMs: v.duration(registration.drainDelay, 'drainDelay', '0s'),
  };
}

export type ResolvedRegistrationOptions = ReturnType<typeof resolveRegistrationOptions>;
