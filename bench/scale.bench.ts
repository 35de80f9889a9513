import type { Subscription } from 'rxjs';
import { ConsulDiscoveryService } from '../lib/index.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { registerTtl, startApp } from './context.js';
import { fmt, table } from './stats.js';

const SERVICES = 1_000;
const INSTANCES = 10;
const IDLE_MS = 10_000;

const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** 6. Watching 1,000 services × 10 instances: memory added and CPU while idle. */
export async function scaleBench(agent: ConsulAgent): Promise<string> {
  const ids = Array.from({ length: SERVICES * INSTANCES }, (_, i) => i);
  const registerStarted = Date.now();
  for (let next = 0; next < ids.length;) {
    await Promise.all(
      ids
        .slice(next, next + 50)
        .map((i) => registerTtl(agent, `scale_${Math.floor(i / INSTANCES)}`, `scale-${i}`, 10_000 + (i % 50_000))),
    );
    next += 50;
  }
  const registerSeconds = (Date.now() - registerStarted) / 1000;
  const app = await startApp(agent.httpPort);
  const discovery = app.get(ConsulDiscoveryService);
  try {
    gc();
    const before = process.memoryUsage();
    const subscriptions: Subscription[] = [];
    const firsts: Array<Promise<void>> = [];
    for (let s = 0; s < SERVICES; s++) {
      firsts.push(
        new Promise((resolve) => subscriptions.push(discovery.watch(`scale_${s}`).subscribe(() => resolve()))),
      );
    }
    await Promise.all(firsts);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // every loop now blocking
    gc();
    const after = process.memoryUsage();
    const cpuBefore = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const cpu = process.cpuUsage(cpuBefore);
    const cpuPercent = ((cpu.user + cpu.system) / 1000 / IDLE_MS) * 100;
    const loops = discovery.activeWatches;
    subscriptions.forEach((s) => s.unsubscribe());
    const mb = (bytes: number) => fmt(bytes / 1024 / 1024, 1);
    return table(
      `6. Scale: ${fmt(SERVICES)} services × ${INSTANCES} instances watched (${fmt(loops)} loops)`,
      ['measure', 'value'],
      [
        ['RSS added', `${mb(after.rss - before.rss)} MB`],
        ['heap added', `${mb(after.heapUsed - before.heapUsed)} MB`],
        [`CPU while idle (${IDLE_MS / 1000} s, all loops blocking)`, `${fmt(cpuPercent, 2)}% of one core`],
        ['registering the 10,000 instances (setup)', `${fmt(registerSeconds, 1)} s`],
      ],
      ['Target: under 50 MB, idle CPU ≈ 0. Memory measured after a forced GC (node --expose-gc).'],
    );
  } finally {
    await app.close();
  }
}
