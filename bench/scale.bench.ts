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

/**
 * Memory with the garbage gone. One forced GC is not enough: V8 frees ArrayBuffer backing stores
 * and empty pages while it sweeps, concurrently, after gc() returns. Measured right after one
 * GC, `external` still counted the ~8 MB of first answers' bodies (garbage already) and the heap
 * its unswept pages. A second GC, a turn later, finishes the first one's sweep.
 */
async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage();
}

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
    const before = await settledMemory();
    const subscriptions: Subscription[] = [];
    const firsts: Array<Promise<void>> = [];
    const watchStarted = performance.now();
    for (let s = 0; s < SERVICES; s++) {
      firsts.push(
        new Promise((resolve) => subscriptions.push(discovery.watch(`scale_${s}`).subscribe(() => resolve()))),
      );
    }
    await Promise.all(firsts);
    const firstsMs = performance.now() - watchStarted;
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // every loop now blocking
    const after = await settledMemory();
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
        [
          'native memory added (RSS minus the JS heap V8 has committed)',
          `${mb(after.rss - after.heapTotal - (before.rss - before.heapTotal))} MB`,
        ],
        [`all ${fmt(SERVICES)} first answers in (from the first \`watch()\`)`, `${fmt(firstsMs)} ms`],
        [`CPU while idle (${IDLE_MS / 1000} s, all loops blocking)`, `${fmt(cpuPercent, 2)}% of one core`],
        [`\`choose()\` of one service, ${fmt(SERVICES)} in the cache`, `${fmt(chooseOne)} calls/s`],
        [`\`choose()\` of the ${fmt(SERVICES)} services in turn`, `${fmt(chooseSpread)} calls/s`],
        [
          `registering the ${fmt(SERVICES * INSTANCES)} instances (setup, catalog transactions of 64)`,
          `${fmt(registerSeconds, 1)} s`,
        ],
      ],
      [
        'Targets: at most 25 MB, idle CPU ≈ 0, `choose()` ≥ 8 million/s. Memory measured after two forced GCs (node --expose-gc),',
        "so garbage (the first answers' bodies) is not counted. The heap is mostly the 1,000 requests in flight (one blocking",
        "query per service: the socket, node:http's request and parser, the `consul` package's call, the awaiting frames)",
        "and the 10,000 instances. RSS is that heap as V8 commits it (whole pages), plus native memory: each open connection's",
        "TCP handle and HTTP parser (~2.4 KB), and the C heap the answers' bodies were read into, which glibc keeps for",
        'reuse after they are freed (it returns to the OS only the top of its heap). Kernel socket buffers are not in RSS.',
      ],
    );
  } finally {
    await app.close();
    await removeCatalogNode(agent, NODE);
  }
}
