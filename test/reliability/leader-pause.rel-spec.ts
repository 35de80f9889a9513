import { ConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/eventually.js';
import { median } from '../helpers/process-fleet.js';
import { LeaderFleet } from './leader-fleet.js';
import { report } from './report.js';

const PAUSES = 10;
const PAUSE_MS = 6_000;

/**
 * A leader frozen (SIGSTOP) for longer than its step-down deadline, as by a long GC pause or a
 * frozen VM, wakes with its timers overdue. Its worker keeps the leadership's signal and checks it
 * before every act (test/fixtures/leader-app.mjs): the first check after the thaw must see the
 * abort, before the step-down timer has run.
 */
describe('A leader frozen past its deadline (SIGSTOP / SIGCONT, 3 processes, real Consul agent)', () => {
  let agent: ConsulAgent;

  beforeAll(async () => {
    agent = await ConsulAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
  });

  it(`${PAUSES} pauses of ${PAUSE_MS / 1000} s: the thawed leader never acts once another leads, fencing tokens strictly increase`, async () => {
    const fleet = new LeaderFleet(agent, 'locks/rel-pause');
    try {
      for (let i = 0; i < 3; i++) fleet.startContender();
      let leader = (await fleet.actingAfter(0)).name;
      const handovers: number[] = [];
      const stepDownsAfterThaw: number[] = [];
      for (let pause = 0; pause < PAUSES; pause++) {
        // Every contender campaigning again, the one thawed last round included.
        await eventually(async () => (await fleet.sessions(agent)).length === 3, {
          what: '3 sessions',
          timeoutMs: 20_000,
        });
        const frozenAt = fleet.freeze(leader, 'SIGSTOP');
        const next = await fleet.actingAfter(frozenAt, leader);
        handovers.push(next.t - frozenAt);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, frozenAt + PAUSE_MS - Date.now())));
        const thawedAt = fleet.freeze(leader, 'SIGCONT');
        const aborted = await eventually(() => fleet.first('abort', leader, frozenAt), {
          what: `${leader} stepping down after the thaw`,
          timeoutMs: 10_000,
        });
        stepDownsAfterThaw.push(aborted.t - thawedAt);
        leader = next.name;
      }
      const overlaps = fleet.overlappingActs();
      const grants = fleet.expectTokensIncrease();
      report(`leader frozen ${PAUSE_MS / 1000} s by SIGSTOP, ${PAUSES} times (3 processes, defaults)`, {
        pauses: PAUSES,
        overlappingActs: overlaps.length,
        grants,
        handoverMinMs: Math.min(...handovers),
        handoverMedianMs: median(handovers),
        handoverMaxMs: Math.max(...handovers),
        stepDownAfterThawMaxMs: Math.max(...stepDownsAfterThaw),
      });
      expect(overlaps).toEqual([]);
      expect(fleet.events.filter((e) => e.event === 'stale')).toEqual([]);
    } finally {
      await fleet.stopAll();
    }
  }, 240_000);
});
