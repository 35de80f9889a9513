import type { Subscription } from 'rxjs';
import { ConsulDiscoveryService } from '../lib/index.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { registerInCatalog, removeCatalogNode } from './catalog-batch.js';
import { startApp } from './context.js';
import { fmt, rate, table } from './stats.js';

const SERVICES = 1_000;
const INSTANCES = 10;
const IDLE_MS = 10_000;
const NODE = 'bench-scale-node';

const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** 6. Watching 1,000 services × 10 instances: memory added and CPU while idle. */
export async function scaleBench(agent: ConsulAgent): Promise<string> {
  const registerStarted = Date.now();
  await registerInCatalog(
    agent,
    NODE,
    Array.from({ length: SERVICES * INSTANCES }, (_, i) => ({
      id: `scale-${i}`,
      name: `scale_${Math.floor(i / INSTANCES)}`,
      port: 10_000 + i,
    })),
  );
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
    // choose() spread over every watched service: a cold spot in the cache would show here.
    const names = Array.from({ length: SERVICES }, (_, s) => `scale_${s}`);
    let next = 0;
    for (const name of names) await discovery.choose(name);
    const chooseOne = await rate(() => discovery.choose('scale_500'), 2_000);
    const chooseSpread = await rate(() => discovery.choose(names[next++ % SERVICES]), 2_000);
    subscriptions.forEach((s) => s.unsubscribe());
    const mb = (bytes: number) => fmt(bytes / 1024 / 1024, 1);
    return table(
      `8. Scale: ${fmt(SERVICES)} services × ${INSTANCES} instances watched (${fmt(loops)} loops)`,
      ['measure', 'value'],
      [
        ['RSS added', `${mb(after.rss - before.rss)} MB`],
        ['heap added (live objects after GC)', `${mb(after.heapUsed - before.heapUsed)} MB`],
        ['external memory added (buffers held by JS objects)', `${mb(after.external - before.external)} MB`],
        [`CPU while idle (${IDLE_MS / 1000} s, all loops blocking)`, `${fmt(cpuPercent, 2)}% of one core`],
        [`\`choose()\` of one service, ${fmt(SERVICES)} in the cache`, `${fmt(chooseOne)} calls/s`],
        [`\`choose()\` of the ${fmt(SERVICES)} services in turn`, `${fmt(chooseSpread)} calls/s`],
        [
          `registering the ${fmt(SERVICES * INSTANCES)} instances (setup, catalog transactions of 64)`,
          `${fmt(registerSeconds, 1)} s`,
        ],
      ],
      [
        'Targets: at most 25 MB, idle CPU ≈ 0, `choose()` ≥ 8 million/s. Memory measured after a forced GC (node --expose-gc);',
        'RSS also counts native memory outside the JS heap (1,000 open connections, each holding a blocking request).',
      ],
    );
  } finally {
    await app.close();
    await removeCatalogNode(agent, NODE);
  }
}
