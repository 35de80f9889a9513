import { fileURLToPath } from 'node:url';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/eventually.js';
import { type FleetEvent, ProcessFleet } from '../helpers/process-fleet.js';
import { report } from './report.js';

const SEMAPHORE_APP = fileURLToPath(new URL('../fixtures/semaphore-app.mjs', import.meta.url));

interface SlotEvent extends FleetEvent {
  event: 'started' | 'acquired' | 'released' | 'abort' | 'error';
}

/**
 * Each process's holdings, from its `acquired` to its `released`, `abort` or SIGKILL (a killed
 * process cannot act any more), as [start, end] pairs.
 */
function holdings(fleet: ProcessFleet<SlotEvent>): Array<[number, number]> {
  const held: Array<[number, number]> = [];
  for (const grant of fleet.events.filter((e) => e.event === 'acquired')) {
    const end = fleet.events.find(
      (e) => e.name === grant.name && e.t >= grant.t && e !== grant && (e.event === 'released' || e.event === 'abort'),
    );
    const killed = fleet.killedAt.get(grant.name);
    held.push([grant.t, Math.min(end?.t ?? Infinity, killed !== undefined && killed >= grant.t ? killed : Infinity)]);
  }
  return held;
}

/** The most holdings that overlap at one instant. */
function mostAtOnce(held: Array<[number, number]>): number {
  // Ends before starts at the same millisecond: a slot handed over is not held twice.
  const edges = held.flatMap(([start, end]) => [
    [start, 1],
    [end, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, step] of edges) most = Math.max(most, (now += step));
  return most;
}

describe('Semaphore across 5 processes (real Consul agent)', () => {
  let agent: ConsulAgent;

  beforeAll(async () => {
    agent = await ConsulAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
  });

  it('limit 2, 5 contender processes for 30 s, a holder SIGKILLed every ~3 s: never more than 2 holders', async () => {
    const fleet = new ProcessFleet<SlotEvent>(SEMAPHORE_APP);
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
