import { formatDuration, MAX_WAIT_MS } from './duration.js';
import { describe, type SectionKeys, type Validator } from './validator.js';
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
   * this long, 0s to 60s: time for a holder that is still running to hear it lost them (its key watch
   * hears it within milliseconds). Consul's default is 15s; ours is short so that failover stays
   * under 3 s (liveness TTL 2s + 500ms; see docs/locks.md).
   * @default "500ms"
   */
  lockDelay?: string;
  /**
   * TTL of the liveness check a registered app attaches to its instance when it first takes a lock,
   * passes every TTL/4 and ties its session to, 1s to 60s: a crashed holder's locks are freed this
   * long after its last pass (plus the lock-delay), not after the next run of the service check or the
   * session TTL. A holder that cannot pass it steps down at 3/4 of it. `false`: no liveness check (a
   * crash then frees the locks when the service check fails, or after the session TTL).
   * @default "2s"
   */
  livenessTtl?: string | false;
  /** Longest single blocking read while waiting for a lock, up to Consul's 10m. @default "5m" */
  wait?: string;
}

const LOCKS_KEYS: SectionKeys<ConsulLocksOptions> = {
  prefix: true,
  sessionTtl: true,
  renewInterval: true,
  lockDelay: true,
  livenessTtl: true,
  wait: true,
};

const MIN_TTL_MS = 10_000;
const MAX_TTL_MS = 86_400_000;
const MAX_LOCK_DELAY_MS = 60_000;
const MIN_LIVENESS_TTL_MS = 1_000;
const MAX_LIVENESS_TTL_MS = 60_000;

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
  let lockDelayMs = v.duration(locks.lockDelay, 'lockDelay', '500ms');
  if (lockDelayMs < 0 || lockDelayMs > MAX_LOCK_DELAY_MS) {
    v.fail('lockDelay', `${describe(locks.lockDelay)} is outside Consul's range of 0s to 60s`);
    lockDelayMs = 500;
  }
  let livenessTtlMs: number | undefined;
  if (locks.livenessTtl !== false) {
    livenessTtlMs = v.duration(locks.livenessTtl, 'livenessTtl', '2s', { positive: true });
    if (livenessTtlMs < MIN_LIVENESS_TTL_MS || livenessTtlMs > MAX_LIVENESS_TTL_MS) {
      v.fail(
        'livenessTtl',
        `${describe(locks.livenessTtl)} is outside 1s to 60s`,
        'use a duration like "2s", or false for no liveness check',
      );
      livenessTtlMs = 2_000;
    }
  }
  const waitMs = v.duration(locks.wait, 'wait', '5m', { positive: true });
  if (waitMs > MAX_WAIT_MS) v.fail('wait', `${describe(locks.wait)} is longer than Consul's maximum of 10m`);
  return { prefix, sessionTtlMs, renewIntervalMs, lockDelayMs, livenessTtlMs, waitMs: Math.min(waitMs, MAX_WAIT_MS) };
}

export type ResolvedLocksOptions = ReturnType<typeof resolveLocksOptions>;
