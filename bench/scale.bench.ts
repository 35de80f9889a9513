import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { registerInCatalog, removeCatalogNode } from './catalog-batch.js';
import { fmt, table } from './stats.js';

const SERVICES = 1_000;
const INSTANCES = 10;
const RUNS = 5;
const IDLE_S = 10;
const NODE = 'bench-scale-node';
const WORKER = fileURLToPath(new URL('./scale-worker.js', import.meta.url));
const run = promisify(execFile);

/** What one scale-worker.ts run prints: memory added by the watches (bytes), and the rest. */
interface ScaleRun {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  rssAnon: number;
  rssFile: number;
  rssAfterBurst: number;
  firstsMs: number;
  cpuPercent: number;
  loops: number;
  chooseOne: number;
  chooseSpread: number;
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
  try {
    // Each run in a fresh process: memory before the watches is then an app's alone (not the
    // set-up's above), and RSS, which moves by several MB from run to run, is shown with its range.
    const runs: ScaleRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      const { stdout } = await run(
        process.execPath,
        ['--expose-gc', WORKER, String(agent.httpPort), String(SERVICES)],
        { timeout: 120_000 },
      );
      runs.push(JSON.parse(stdout.trim().split('\n').at(-1)!) as ScaleRun);
    }
    // Median (min–max) over the runs of one figure.
    const spread = (of: (run: ScaleRun) => number, show: (value: number) => string) => {
      const values = runs.map(of).toSorted((a, b) => a - b);
      return `${show(values[Math.floor(RUNS / 2)])} (${show(values[0])}–${show(values.at(-1)!)})`;
    };
    const mb = (bytes: number) => `${fmt(bytes / 1024 / 1024, 1)} MB`;
    return table(
      `8. Scale: ${fmt(SERVICES)} services × ${INSTANCES} instances watched (${fmt(runs.map((r) => r.loops).toSorted((a, b) => a - b)[Math.floor(RUNS / 2)])} loops; ${RUNS} fresh processes, median (min–max))`,
      ['measure', 'value'],
      [
        [`RSS added (idle, as before the watches: ${IDLE_S} s after the first answers)`, spread((r) => r.rss, mb)],
        ['… of it anonymous memory (RssAnon)', spread((r) => r.rssAnon, mb)],
        ["… of it file-backed pages (RssFile: node's own code, newly touched)", spread((r) => r.rssFile, mb)],
        [
          'RSS added 2 s after the first answers (before V8 gives back its spare pages)',
          spread((r) => r.rssAfterBurst, mb),
        ],
        ['heap added (live objects after GC)', spread((r) => r.heapUsed, mb)],
        ['JS heap V8 has committed, added', spread((r) => r.heapTotal, mb)],
        ['external memory added (buffers held by JS objects)', spread((r) => r.external, mb)],
        ['native memory added (RSS minus the JS heap V8 has committed)', spread((r) => r.rss - r.heapTotal, mb)],
        [
          `all ${fmt(SERVICES)} first answers in (from the first \`watch()\`)`,
          spread(
            (r) => r.firstsMs,
            (v) => `${fmt(v)} ms`,
          ),
        ],
        [
          `CPU while idle (${IDLE_S} s, all loops blocking)`,
          spread(
            (r) => r.cpuPercent,
            (v) => `${fmt(v, 2)}% of one core`,
          ),
        ],
        [
          `\`choose()\` of one service, ${fmt(SERVICES)} in the cache`,
          spread(
            (r) => r.chooseOne,
            (v) => `${fmt(v)} calls/s`,
          ),
        ],
        [
          `\`choose()\` of the ${fmt(SERVICES)} services in turn`,
          spread(
            (r) => r.chooseSpread,
            (v) => `${fmt(v)} calls/s`,
          ),
        ],
        [
          `registering the ${fmt(SERVICES * INSTANCES)} instances (setup, catalog transactions of 64)`,
          `${fmt(registerSeconds, 1)} s`,
        ],
      ],
      [
        'Targets: at most 25 MB, idle CPU ≈ 0, `choose()` ≥ 8 million/s. Each run is a fresh process (the set-up above does not',
        'weigh on its memory), compared idle against idle: after two forced GCs (node --expose-gc), so garbage is not counted,',
        "and after 10 s idle, once V8's memory reducer has given back the pages it kept after the burst. The heap is mostly the 1,000 requests in flight (one blocking",
        "query per service: the socket, node:http's request and parser, the loop's promise and its timer)",
        "and the 10,000 instances. RSS is that heap as V8 commits it (whole pages), plus native memory: each open connection's",
        "TCP handle and HTTP parser (~2.4 KB), and the C heap the answers' bodies were read into, which glibc keeps for",
        'reuse after they are freed (it returns to the OS only the top of its heap; at most 32 first reads at once keep it smaller).',
        'Kernel socket buffers are not in RSS.',
      ],
    );
  } finally {
    await removeCatalogNode(agent, NODE);
  }
}
