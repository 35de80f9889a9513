import { fileURLToPath } from 'node:url';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/eventually.js';
import { ProcessFleet } from '../helpers/process-fleet.js';
import { type HoldEvent, holdings, mostAtOnce } from './holdings.js';
import { report } from './report.js';

const SEMAPHORE_APP = fileURLToPath(new URL('../fixtures/semaphore-app.mjs', import.meta.url));

describe('Semaphore across 5 processes (real Consul agent)', () => {
  let agent: ConsulAgent;

  beforeAll(async () => {
    agent = await ConsulAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
  });

  it('limit 2, 5 contender processes for 30 s, a holder SIGKILLed every ~3 s: never more than 2 holders', async () => {
    const fleet = new ProcessFleet<HoldEvent>(SEMAPHORE_APP);
    const prefix = 'locks/rel-semaphore';
    let serial = 0;
    const startOne = () => {
      const name = `sem-${++serial}`;
      return fleet.start(name, [String(agent.httpPort), name, prefix]);
    };
    const lockKey = `${prefix}/semaphore/exports/.lock`;
    let mostInConsul = 0;
    const sampling = setInterval(() => {
      void agent
        .api(`/v1/kv/${lockKey}?raw`)
        .then(async (res) => (res.ok ? Object.keys(((await res.json()) as { Holders: object }).Holders).length : 0))
        .then((n) => (mostInConsul = Math.max(mostInConsul, n)))
        .catch(() => undefined);
    }, 100);
    try {
      for (let i = 0; i < 5; i++) startOne();
      await eventually(() => fleet.events.filter((e) => e.event === 'acquired').length >= 2, {
        timeoutMs: 20_000,
        what: 'two slots taken',
      });
      const until = Date.now() + 30_000;
      let kills = 0;
      while (Date.now() < until - 3_000) {
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        // A process holding a slot right now: its last slot event is 'acquired'.
        const holder = fleet.names.find((name) => fleet.events.findLast((e) => e.name === name)?.event === 'acquired');
        if (!holder) continue;
        await fleet.stop(holder, 'SIGKILL');
        kills++;
        startOne();
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
      const held = holdings(fleet);
      const most = mostAtOnce(held);
      report('semaphore: limit 2, 5 processes, a holder SIGKILLed every ~3 s for 30 s', {
        grants: held.length,
        kills,
        mostHoldersAtOnce: most,
        mostHoldersInConsul: mostInConsul,
      });
      expect(fleet.events.filter((e) => e.event === 'error')).toEqual([]);
      expect(kills).toBeGreaterThanOrEqual(5);
      expect(held.length).toBeGreaterThan(20);
      expect(most).toBeLessThanOrEqual(2);
      expect(mostInConsul).toBeLessThanOrEqual(2);
      // The slots were in use, not idle: two at once most of the time.
      expect(most).toBe(2);
    } finally {
      clearInterval(sampling);
      await fleet.stopAll();
    }
  }, 90_000);
});
