// npm run bench: every benchmark against one real Consul agent, in one process and one run, so
// ratios compare like with like. Prints Markdown tables and writes them to bench/results.md,
// keeping its hand-written "## Notes" (measurements that no table repeats) at the end.
// `npm run bench -- clients scale` runs only the benches named (see `benches` below) and rewrites
// only their sections of bench/results.md, each marked as run on its own.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chooseBench } from './choose.bench.js';
import { clientsBench } from './clients.bench.js';
import { connectBench } from './connect.bench.js';
import { consulLoadBench } from './consul-load.bench.js';
import { fleetBench } from './fleet.bench.js';
import { startAgent } from './context.js';
import { lifecycleBench } from './lifecycle.bench.js';
import { observabilityBench } from './observability.bench.js';
import { propagationBench } from './propagation.bench.js';
import { scaleBench } from './scale.bench.js';
import { startupBench } from './startup.bench.js';
import { consulBin } from '../test/helpers/consul-agent.js';

const only = process.argv.slice(2);
const benches: Array<[string, typeof chooseBench]> = [
  ['choose', chooseBench],
  ['propagation', propagationBench],
  ['load', consulLoadBench],
  ['clients', clientsBench],
  ['observability', observabilityBench],
  ['startup', startupBench],
  ['lifecycle', lifecycleBench], // before scale: the scale test leaves 10,000 instances in the agent
  ['scale', scaleBench],
  ['fleet', fleetBench], // its own 3-server cluster on 127.0.0.10–13
  ['connect', connectBench],
];

const agent = await startAgent();
const sections: string[] = [];
const ran: string[] = [];
try {
  for (const [name, bench] of benches) {
    if (only.length && !only.includes(name)) continue;
    const started = Date.now();
    const section = await bench(agent);
    process.stdout.write(`${section}\n(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)\n\n`);
    sections.push(section);
    ran.push(name);
  }
} finally {
  await agent.stop();
}
const consulVersion = execFileSync(consulBin(), ['version'], { encoding: 'utf8' }).split('\n')[0];
const header = [
  '# Benchmarks',
  '',
  `Run ${new Date().toISOString().slice(0, 10)} with \`npm run bench\` on Node ${process.version}, ${consulVersion}, a dev agent on 127.0.0.1; ` +
    'every comparison in one process and one run (absolute numbers depend on the machine; the ratios are the point).',
  '',
];
const resultsFile = fileURLToPath(new URL('../../bench/results.md', import.meta.url));
if (only.length === 0) {
  const previous = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '';
  const notes = previous.indexOf('\n## Notes\n');
  writeFileSync(
    resultsFile,
    `${header.join('\n')}\n${sections.join('\n')}${notes >= 0 ? `\n${previous.slice(notes + 1)}` : ''}`,
  );
} else {
  const note = (name: string) =>
    `This section was run on its own (\`npm run bench -- ${name}\`) on ${new Date().toISOString().slice(0, 10)}, ` +
    `Node ${process.version}, ${consulVersion}; the other sections come from the last full run.\n`;
  writeFileSync(
    resultsFile,
    sections.reduce(
      (results, section, i) => replaceSection(results, section, note(ran[i])),
      readFileSync(resultsFile, 'utf8'),
    ),
  );
}

/** `results` with the section numbered as `section` is (`### 4. …` up to the next `### `) replaced by it. */
function replaceSection(results: string, section: string, note: string): string {
  const number = /^### (\d+)\./.exec(section)?.[1];
  const start = number === undefined ? -1 : results.indexOf(`### ${number}. `);
  if (start < 0) {
    // A section not run before goes after the last one, before the hand-written notes.
    const notes = results.indexOf('\n## Notes\n');
    if (notes < 0) return `${results}\n${section}${note}`;
    return `${results.slice(0, notes + 1)}${section}${note}${results.slice(notes)}`;
  }
  // The section ends at the next one, or at the hand-written notes after the last.
  const ends = ['\n### ', '\n## '].map((mark) => results.indexOf(mark, start + 1)).filter((i) => i >= 0);
  const next = ends.length ? Math.min(...ends) : -1;
  return `${results.slice(0, start)}${section}${note}${next < 0 ? '' : results.slice(next)}`;
}
process.exit(0);
