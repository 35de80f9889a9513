import { ConsulSemaphoreService } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { consulOptions, startHttpApp } from '../helpers/consul-app.js';

describe('ConsulSemaphoreService (real Consul agent)', () => {
  const suite = useConsulAgent();

  it('limit 2, 5 contenders for 8 s with sessions killed: never more than 2 holders', async () => {
    const services: ConsulSemaphoreService[] = [];
    for (let i = 0; i < 5; i++) {
      const started = await startHttpApp(consulOptions(suite.agent, { locks: { prefix: 'locks/sem' } }), {
        listen: false,
      });
      await started.app.init();
      suite.apps.push(started);
      services.push(started.app.get(ConsulSemaphoreService));
    }
    let holding = 0;
    let most = 0;
    let grants = 0;
    let killed = 0;
    const until = Date.now() + 8_000;
    const lockKey = 'locks/sem/semaphore/exports/.lock';
    const holdersInConsul = async () => {
      const res = await suite.agent.api(`/v1/kv/${lockKey}?raw`);
      return res.ok ? Object.keys(((await res.json()) as { Holders: object }).Holders).length : 0;
    };
    const contender = async (semaphores: ConsulSemaphoreService) => {
      while (Date.now() < until) {
        const slot = await semaphores.acquire('exports', 2);
        if (slot.signal.aborted) continue;
        grants++;
        holding++;
        most = Math.max(most, holding);
        expect(await holdersInConsul()).toBeLessThanOrEqual(2);
        let held = true;
        const stop = () => {
          if (held) holding--;
          held = false;
        };
        slot.signal.addEventListener('abort', stop, { once: true });
        if (grants % 7 === 0 && killed < 3) {
          // A crash: the holder stops at once, its session is destroyed behind the app's back
          // (Consul frees its contender key) and the next contender prunes it from the holders.
          killed++;
          stop();
          await suite.agent.api(`/v1/session/destroy/${slot.sessionId}`, { method: 'PUT' });
        } else {
          await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
        }
        stop();
        await slot.release();
      }
    };
    await Promise.all(services.map((s) => contender(s)));
    expect(most).toBe(2);
    expect(grants).toBeGreaterThan(10);
    expect(killed).toBeGreaterThan(0);
    process.stdout.write(`[semaphore] grants=${grants} most=${most} sessions killed=${killed}\n`);
  }, 30_000);
});
