import { BlackHoleRelay } from '../helpers/black-hole-relay.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/eventually.js';
import { median } from '../helpers/process-fleet.js';
import { type LeaderEvent, LeaderFleet } from './leader-fleet.js';
import { report } from './report.js';

const CUTS = 10;

/**
 * Each contender reaches its agent through its own relay; the agent reaches the contender's health
 * check directly. Black-holing the leader's relay is a partition between the app and Consul in which
 * Consul still sees the app healthy: only the app's own clock (its session's step-down deadline)
 * can stop it before Consul hands the lock on. Its acts (test/fixtures/leader-app.mjs) go straight
 * to the agent, as a job's writes would go to a database it still reaches.
 */
describe('A leader cut off from its agent by a black-holing partition (3 processes, real Consul agent)', () => {
  let agent: ConsulAgent;

  beforeAll(async () => {
    agent = await ConsulAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
  });

  it(`${CUTS} cuts: the old leader's last act comes before the new leader's first, and it rejoins as a follower once healed`, async () => {
    const fleet = new LeaderFleet(agent, 'locks/rel-partition');
    const lines = new Map<string, BlackHoleRelay>();
    try {
      for (let i = 0; i < 3; i++) {
        const line = await BlackHoleRelay.start(agent.httpPort);
        lines.set(fleet.startContender(line.port), line);
      }
      let leader = (await fleet.actingAfter(0)).name;
      const stepDowns: number[] = [];
      const handovers: number[] = [];
      const margins: number[] = [];
      const rejoins: number[] = [];
      for (let cut = 0; cut < CUTS; cut++) {
        await eventually(async () => (await fleet.sessions(agent)).length === 3, {
          what: '3 sessions',
          timeoutMs: 20_000,
        });
        const cutAt = Date.now();
        lines.get(leader)!.partition();
        const next = await fleet.actingAfter(cutAt, leader);
        const aborted = fleet.first('abort', leader, cutAt);
        const granted = fleet.first('granted', next.name, cutAt)!;
        const lastOld = lastAct(fleet.events, leader);
        const firstNew = fleet.events.find(
          (e) => (e.event === 'act' || e.event === 'work') && e.name === next.name && e.t >= granted.t,
        )!;
        expect(aborted).toBeDefined();
        expect(aborted!.t).toBeLessThan(granted.t);
        expect(lastOld.t).toBeLessThan(firstNew.t);
        stepDowns.push(aborted!.t - cutAt);
        handovers.push(granted.t - cutAt);
        margins.push(firstNew.t - lastOld.t);

        const healedAt = Date.now();
        lines.get(leader)!.heal();
        await eventually(async () => (await fleet.sessions(agent)).includes(leader), {
          what: `${leader} campaigning again after the partition healed`,
          timeoutMs: 20_000,
        });
        rejoins.push(Date.now() - healedAt);
        // A follower: the key stays with the new leader.
        expect(fleet.first('granted', leader, healedAt)).toBeUndefined();
        leader = next.name;
      }
      const overlaps = fleet.overlappingActs();
      const stats = (values: number[]) => `${Math.min(...values)}/${median(values)}/${Math.max(...values)}`;
      report(`leader partitioned from its agent (black hole), ${CUTS} cuts (defaults: liveness TTL 2s)`, {
        cuts: CUTS,
        overlappingActs: overlaps.length,
        stepDownAfterCutMs: stats(stepDowns),
        newLeaderAfterCutMs: stats(handovers),
        lastOldToFirstNewActMs: stats(margins),
        rejoinedAfterHealMs: stats(rejoins),
      });
      expect(overlaps).toEqual([]);
      fleet.checkSafety();
    } finally {
      await fleet.stopAll();
      await Promise.all([...lines.values()].map((line) => line.stop()));
    }
  }, 240_000);
});

function lastAct(events: LeaderEvent[], name: string): LeaderEvent {
  return events.filter((e) => (e.event === 'act' || e.event === 'work') && e.name === name).at(-1)!;
}
