import { fileURLToPath } from 'node:url';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/eventually.js';
import { ProcessFleet } from '../helpers/process-fleet.js';
import { type HoldEvent, holdings, longestIdle, mostAtOnce } from './holdings.js';
import { report } from './report.js';

const LOCK_APP = fileURLToPath(new URL('../fixtures/lock-churn-app.mjs', import.meta.url));
const RUN_MS = 60_000;
const KILL_EVERY_MS = 2_000;

describe('withLock() churn across 5 processes (real Consul agent)', () => {
  let agent: ConsulAgent;

  beforeAll(async () => {
    agent = await ConsulAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
  });

  it('a process SIGKILLed every 2 s for 60 s (the holder every other time): no two critical sections overlap', async () => {
    const fleet = new ProcessFleet<HoldEvent>(LOCK_APP);
    const prefix = 'locks/rel-churn';
    let serial = 0;
    const startOne = () => {
      const name = `churn-${++serial}`;
      return fleet.start(name, [String(agent.httpPort), name, prefix]);
    };
    try {
      for (let i = 0; i < 5; i++) startOne();
      await eventually(() => fleet.events.some((e) => e.event === 'acquired'), {
        timeoutMs: 40_000,
        what: 'the lock taken',
      });
      const until = Date.now() + RUN_MS;
      let kills = 0;
      let holderKills = 0;
      while (Date.now() < until - KILL_EVERY_MS) {
        await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS));
        // The process inside the critical section now (its last event is 'acquired'), every other time.
        const holder = fleet.names.find((name) => fleet.events.findLast((e) => e.name === name)?.event === 'acquired');
        const others = fleet.names.filter((name) => name !== holder);
        const victim = holder && kills % 2 === 0 ? holder : others[Math.floor(Math.random() * others.length)];
        if (victim === holder) holderKills++;
        await fleet.stop(victim, 'SIGKILL');
        kills++;
        startOne();
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
      const held = holdings(fleet).filter((h) => h.start < until);
      const inOrder = held.toSorted((a, b) => a.start - b.start);
      const tokensIncrease = inOrder.every((h, i) => i === 0 || h.token! > inOrder[i - 1].token!);
      report('withLock churn: 5 processes, one SIGKILLed every 2 s for 60 s', {
        sections: held.length,
        kills,
        holderKills,
        mostInsideAtOnce: mostAtOnce(held),
        longestIdleMs: longestIdle(held),
        tokensIncrease,
      });
      expect(fleet.events.filter((e) => e.event === 'error')).toEqual([]);
      expect(kills).toBeGreaterThanOrEqual(25);
      expect(holderKills).toBeGreaterThanOrEqual(5);
      expect(held.length).toBeGreaterThan(50);
      expect(mostAtOnce(held)).toBe(1);
      expect(tokensIncrease).toBe(true);
    } finally {
      await fleet.stopAll();
    }
  }, 120_000);
});
