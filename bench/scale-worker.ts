// One run of the scale benchmark (scale.bench.ts), in a fresh process, so the memory before the
// watches is an app's and nothing else's (the parent registered the 10,000 instances). Prints one
// JSON line. argv: <agent port> <services>
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { Subscription } from 'rxjs';
import { ConsulDiscoveryService } from '../lib/index.js';
import { startApp } from './context.js';
import { rate } from './stats.js';

const IDLE_MS = 10_000;
const [port, count] = process.argv.slice(2).map(Number);

const gc = () => (globalThis as { gc?: () => void }).gc?.();

/**
 * Memory with the garbage gone. One forced GC is not enough: V8 frees ArrayBuffer backing stores
 * and empty pages while it sweeps, concurrently, after gc() returns. Measured right after one
 * GC, `external` still counted the ~8 MB of first answers' bodies (garbage already) and the heap
 * its unswept pages. A second GC, a turn later, finishes the first one's sweep.
 */
async function settledMemory(): Promise<NodeJS.MemoryUsage & { rssAnon: number; rssFile: number }> {
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { ...process.memoryUsage(), rssAnon: kb('RssAnon'), rssFile: kb('RssFile') };
}

const idle = () => new Promise((resolve) => setTimeout(resolve, IDLE_MS));
// A 60 s wait instead of the default 5 minutes. Consul 1.8 keeps serving a blocking query, and
// counts its connection against http_max_conns_per_client, until its wait ends, even once this
// process has exited: five runs of 1,000 watches with 5-minute waits went over the agent's 5,000,
// and the last run's watches were reset and retried (7.7% of a core "idle"). A run lasts ~30 s,
// so no read of these returns while it measures; memory does not depend on the wait.
const app = await startApp(port, { discovery: { wait: '60s' } });
const discovery = app.get(ConsulDiscoveryService);
// Memory is compared idle against idle: ~8 s after a full GC of an idle process, V8's memory
// reducer gives back what it kept for the next burst (young-generation pages it pooled, for
// one). Measured 2 s after the first answers instead, RSS held ~30 MB more (the table shows both).
await settledMemory();
await idle();
const before = await settledMemory();
const subscriptions: Subscription[] = [];
const firsts: Array<Promise<void>> = [];
const watchStarted = performance.now();
for (let s = 0; s < count; s++) {
  firsts.push(new Promise((resolve) => subscriptions.push(discovery.watch(`scale_${s}`).subscribe(() => resolve()))));
}
await Promise.all(firsts);
const firstsMs = performance.now() - watchStarted;
await new Promise((resolve) => setTimeout(resolve, 2_000)); // every loop now blocking
const burst = await settledMemory();
const cpuBefore = process.cpuUsage();
await idle();
const cpu = process.cpuUsage(cpuBefore);
const after = await settledMemory();
const loops = discovery.activeWatches;
// choose() spread over every watched service: a cold spot in the cache would show here.
const names = Array.from({ length: count }, (_, s) => `scale_${s}`);
let next = 0;
for (const name of names) await discovery.choose(name);
const chooseOne = await rate(() => discovery.choose('scale_500'), 2_000);
const chooseSpread = await rate(() => discovery.choose(names[next++ % count]), 2_000);
subscriptions.forEach((s) => s.unsubscribe());
await app.close();
const added = (key: keyof typeof before) => after[key] - before[key];
process.stdout.write(
  `${JSON.stringify({
    rss: added('rss'),
    heapUsed: added('heapUsed'),
    heapTotal: added('heapTotal'),
    external: added('external'),
    rssAnon: added('rssAnon'),
    rssFile: added('rssFile'),
    rssAfterBurst: burst.rss - before.rss,
    firstsMs,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / IDLE_MS) * 100,
    loops,
    chooseOne,
    chooseSpread,
  })}\n`,
);
process.exit(0);
