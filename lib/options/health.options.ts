import type { HealthIndicatorFunction } from '@nestjs/terminus';
import type { SectionKeys, Validator } from './validator.js';

export interface ConsulHealthOptions {
  /** Terminus indicators that decide this instance's health for every check type. */
  indicators?: HealthIndicatorFunction[];
}

const KEYS: SectionKeys<ConsulHealthOptions> = { indicators: true };

/** `health`: what decides this instance's health. */
export function resolveHealthOptions(parent: Validator, raw: unknown) {
  const health = parent.section<ConsulHealthOptions>(raw, 'health', KEYS);
  const { indicators } = health;
  if (indicators === undefined) return { indicators: [] as HealthIndicatorFunction[] };
  if (Array.isArray(indicators) && indicators.every((item) => typeof item === 'function')) {
    return { indicators: [...indicators] as HealthIndicatorFunction[] };
  }
  parent.fail(
    'health.indicators',
    'expected an array of functions',
    'pass Terminus indicator functions, e.g. () => this.http.pingCheck(...)',
  );
  return { indicators: [] as HealthIndicatorFunction[] };
}

export type ResolvedHealthOptions = ReturnType<typeof resolveHealthOptions>;
