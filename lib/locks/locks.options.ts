import { formatDuration } from '../options/duration.js';
import { describe, type SectionKeys, type Validator } from '../options/validator.js';
import { keyProblem } from './lock-key.js';

/** Locks, leader elections and semaphores (`ConsulLockService`, `ConsulLeaderService`, `@LeaderOnly`). */
export interface ConsulLocksOptions {
  /**
   * KV prefix of every lock key: `acquire('job')` locks `<prefix>/job`, `elect('cron')` campaigns on
   * `<prefix>/leader/cron`. The ACL token needs `key_prefix "<prefix>" { policy = "write" }`.
   * @default "locks/<service.name>" ("locks" when no service is registered)
   */
  prefix?: string;
  /**
   * TTL of the app's session, 10s (Consul's minimum) to 24h. A holder that cannot renew steps down
   * before it ends; a crashed app that is not registered loses its locks when Consul expires it
   * (between TTL and 2×TTL). @default "10s"
   */
  sessionTtl?: string;
  /** How often the session is renewed; shorter than `sessionTtl`. @default half of sessionTtl */
  renewInterval?: string;
  /**
   * After a session is invalidated (crash, check critical), Consul lets nobody take its locks for
   * this long, 0s to 60s: time for a holder that is still running to hear it lost them. Consul's
   * default is 15s; ours is short so that failover stays within seconds (see docs/locks.md).
   * @default "1s"
   */
  lockDelay?: string;
  /** Longest single blocking read while waiting for a lock, up to Consul's 10m. @default "5m" */
  wait?: string;
}

const LOCKS_KEYS: SectionKeys<ConsulLocksOptions> = {
  prefix: true,
  sessionTtl: true,
  renewInterval: true,
  lockDelay: true,
  wait: true,
};

const MIN_TTL_MS = 10_000;
const MAX_TTL_MS = 86_400_000;
const MAX_LOCK_DELAY_MS = 60_000;

/** `locks`. `serviceName`: the default prefix's last segment. */
export function resolveLocksOptions(parent: Validator, raw: unknown, serviceName: string | undefined) {
  const v = parent.at('locks');
  const locks = parent.section<ConsulLocksOptions>(raw, 'locks', LOCKS_KEYS);
  const prefix = locks.prefix === undefined ? (serviceName ? `locks/${serviceName}` : 'locks') : locks.prefix;
  const problem = keyProblem(prefix);
  if (problem) v.fail('prefix', `${describe(prefix)} ${problem}`, 'use a KV path like "locks/my_service"');

  let sessionTtlMs = v.duration(locks.sessionTtl, 'sessionTtl', '10s', { positive: true });
  if (sessionTtlMs < MIN_TTL_MS || sessionTtlMs > MAX_TTL_MS) {
    v.fail(
      'sessionTtl',
      `${describe(locks.sessionTtl)} is outside Consul's session TTL range of 10s to 24h`,
      'use a duration from "10s" to "24h"',
    );
    sessionTtlMs = MIN_TTL_MS;
  }
  let renewIntervalMs = v.duration(locks.renewInterval, 'renewInterval', formatDuration(sessionTtlMs / 2), {
    positive: true,
  });
  if (renewIntervalMs >= sessionTtlMs) {
    v.fail(
      'renewInterval',
      `${describe(locks.renewInterval)} is not shorter than sessionTtl (${formatDuration(sessionTtlMs)})`,
      `use half of sessionTtl ("${formatDuration(sessionTtlMs / 2)}") or leave it out`,
    );
    renewIntervalMs = sessionTtlMs / 2;
  }
  let lockDelayMs = v.duration(locks.lockDelay, 'lockDelay', '1s');
  if (lockDelayMs < 0 || lockDelayMs > MAX_LOCK_DELAY_MS) {
    v.fail('lockDelay', `${describe(locks.lockDelay)} is outside Consul's range of 0s to 60s`);
    lockDelayMs = 1_000;
  }
  const waitMs = v.duration(locks.wait, 'wait', '5m', { positive: true });
  if (waitMs > 600_000) v.fail('wait', `${describe(locks.wait)} is longer than Consul's maximum of 10m`);
  return { prefix, sessionTtlMs, renewIntervalMs, lockDelayMs, waitMs: Math.min(waitMs, 600_000) };
}

export type ResolvedLocksOptions = ReturnType<typeof resolveLocksOptions>;
