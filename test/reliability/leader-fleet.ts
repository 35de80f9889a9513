import { fileURLToPath } from 'node:url';
import type { ConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/eventually.js';
import { type FleetEvent, ProcessFleet } from '../helpers/process-fleet.js';

const LEADER_APP = fileURLToPath(new URL('../fixtures/leader-app.mjs', import.meta.url));

export interface LeaderEvent extends FleetEvent {
  event: 'started' | 'granted' | 'abort' | 'revoked' | 'act' | 'work' | 'stale' | 'fence-error' | 'tick';
  second?: number;
  token?: number;
  reason?: string;
}

/** Contenders of one election (test/fixtures/leader-app.mjs), and what their events must show. */
export class LeaderFleet extends ProcessFleet<LeaderEvent> {
  private serial = 0;

  constructor(
    private readonly agent: ConsulAgent,
    private readonly prefix: string,
  ) {
    super(LEADER_APP);
  }

  /** A new contender, or `name` again (a restart: the same service id). */
  startContender(consulPort = this.agent.httpPort, name = `contender-${++this.serial}`): string {
    return this.start(name, [String(consulPort), String(this.agent.httpPort), name, this.prefix]);
  }

  /** The instance that acted last, once one acted after `since`. */
  actingAfter(since: number, except?: string): Promise<LeaderEvent> {
    return eventually(() => this.events.find((e) => e.event === 'act' && e.t > since && e.name !== except), {
      timeoutMs: 40_000,
      intervalMs: 20,
      what: 'a leader acting',
    });
  }

  /** Seconds of `@Cron('* * * * * *') @LeaderOnly` runs, from the first tick to the last. */
  cronSeconds(): { seconds: number; ranOnce: number; missed: number; ranTwice: number } {
    const perSecond = new Map<number, number>();
    for (const tick of this.events.filter((e) => e.event === 'tick')) {
      perSecond.set(tick.second!, (perSecond.get(tick.second!) ?? 0) + 1);
    }
    const seconds = Math.max(...perSecond.keys()) - Math.min(...perSecond.keys()) + 1;
    const counts = [...perSecond.values()];
    return {
      seconds,
      ranOnce: counts.filter((n) => n === 1).length,
      missed: seconds - perSecond.size,
      ranTwice: counts.filter((n) => n > 1).length,
    };
  }

  /**
   * Leaderships in grant order, each ending at its abort (or its process's SIGKILL): no two
   * overlap, the fencing tokens strictly increase, and nobody acted with a stale token.
   */
  checkSafety(): { leaderships: number; minGapMs: number } {
    const grants = this.events.filter((e) => e.event === 'granted').toSorted((a, b) => a.t - b.t);
    const ends = grants.map((grant) => {
      const abort = this.first('abort', grant.name, grant.t);
      const killed = this.killedAt.get(grant.name);
      return Math.min(abort?.t ?? Infinity, killed ?? Infinity);
    });
    let minGapMs = Infinity;
    for (let i = 1; i < grants.length; i++) {
      expect(grants[i].token!).toBeGreaterThan(grants[i - 1].token!);
      const gap = grants[i].t - ends[i - 1];
      expect(gap).toBeGreaterThanOrEqual(0);
      minGapMs = Math.min(minGapMs, gap);
    }
    // Acts, in time order, never go back in token.
    const acts = this.events.filter((e) => e.event === 'act').toSorted((a, b) => a.t - b.t);
    for (let i = 1; i < acts.length; i++) expect(acts[i].token!).toBeGreaterThanOrEqual(acts[i - 1].token!);
    expect(this.events.filter((e) => e.event === 'stale')).toEqual([]);
    expect(this.overlappingActs()).toEqual([]);
    return { leaderships: grants.length, minGapMs };
  }

  /**
   * Acts ('act' writes and signal-guarded 'work') of a leadership that another had already
   * replaced: a token below the highest one granted before the act. Two leaders acting at once.
   */
  overlappingActs(): LeaderEvent[] {
    const grants = this.events.filter((e) => e.event === 'granted').toSorted((a, b) => a.t - b.t);
    return this.events.filter(
      (e) =>
        (e.event === 'act' || e.event === 'work') && grants.some((grant) => grant.t < e.t && grant.token! > e.token!),
    );
  }

  /** The grants' fencing tokens, in grant order, strictly increase. */
  expectTokensIncrease(): number {
    const tokens = this.events
      .filter((e) => e.event === 'granted')
      .toSorted((a, b) => a.t - b.t)
      .map((e) => e.token!);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
    return tokens.length;
  }

  /** Sessions the agent holds for this election's contenders, by contender name. */
  async sessions(agent: ConsulAgent): Promise<string[]> {
    const list = (await (await agent.api('/v1/session/list')).json()) as Array<{ Name: string }>;
    return list.map((s) => /\(([^)]+)\)$/.exec(s.Name)?.[1] ?? s.Name);
  }
}
