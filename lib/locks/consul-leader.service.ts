import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { LOG_CONTEXT } from '../consul.constants.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { ConsulElection } from './consul-election.js';
import { ConsulLockService } from './consul-lock.service.js';
import { ConsulSessionManager } from './consul-session.js';
import { keyProblem } from '../options/lock-key.js';
import { ConsulLockError } from './consul-lock.errors.js';
import type { ConsulMetrics } from '../observability/consul-metrics.js';

/**
 * Leader election on a Consul key (Consul's leader-election recipe): `elect('reports')` campaigns
 * on `<locks.prefix>/leader/reports`; the leader's instance id and address are the key's value.
 */
export class ConsulLeaderService implements OnModuleDestroy {
  private readonly logger = new Logger(LOG_CONTEXT.locks);
  private readonly elections = new Map<string, ConsulElection>();

  /** @internal Nest builds it; inject it instead. */
  constructor(
    private readonly options: ResolvedConsulOptions,
    private readonly locks: ConsulLockService,
    private readonly sessions: ConsulSessionManager,
    /** The app's: the leadership gauge reports its elections. */
    private readonly metrics: ConsulMetrics,
  ) {}

  /** Campaigns for `name` (once per app: a second call gives the same running election). */
  elect(name: string): ConsulElection {
    const running = this.elections.get(name);
    if (running) return running;
    const problem = keyProblem(name);
    if (problem) {
      throw new ConsulLockError(
        String(name),
        `Election name ${JSON.stringify(name)} ${problem}`,
        'use a name like "nightly-report"',
      );
    }
    const election = new ConsulElection(
      name,
      `${this.options.locks.prefix}/leader/${name}`,
      this.locks,
      this.logger,
      this.sessions.closing,
    );
    this.elections.set(name, election);
    const untrack = this.metrics.track(this.metrics.elections, election);
    // A resigned election is forgotten: electing the name again campaigns anew.
    election.leader$.subscribe({ complete: () => (this.elections.delete(name), untrack()) });
    return election;
  }

  /** The running election of `name`, if `elect(name)` was called. */
  election(name: string): ConsulElection | undefined {
    return this.elections.get(name);
  }

  /** The running elections (for `ConsulStatusService.snapshot()`). */
  get running(): ConsulElection[] {
    return [...this.elections.values()];
  }

  /** Whether this instance leads `name` now (false if it does not campaign for it). */
  isLeader(name: string): boolean {
    return this.elections.get(name)?.isLeader ?? false;
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.allSettled([...this.elections.values()].map((election) => election.resign()));
  }
}
