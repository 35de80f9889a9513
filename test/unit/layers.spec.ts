import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// Layers run one way (DESIGN.md): a file of lib/ imports from its own layer and lower ones only.
// Type-only imports count: a type from a higher layer ties the lower one to it just the same.
const LIB = fileURLToPath(new URL('../../lib', import.meta.url));

/**
 * The layers of lib/, lowest first. An entry is a folder of lib/ or a file at its top; `*`
 * stands for every other top-level file. Written once, here: change it on purpose, with a reason.
 */
const LAYERS: readonly string[] = [
  // Injection tokens and log contexts: plain strings, no imports, read by every layer.
  'consul.constants.ts',
  // Small shared pieces with no knowledge of Consul: backoff, retry, sleep, host:port, the error
  // base, the shape of a discovered instance.
  'common',
  // Load-balancing strategies: pure algorithms over instances; the options name them.
  'balancing',
  // One resolver per option section, the validation behind them; no I/O.
  'options',
  // The adapter: the only code that talks to Consul (typed answers, ConsulRequestError).
  'consul-api',
  // A leaf for everything that reports: instrument names, meters, the watch observers.
  'observability',
  // The blocking-query engine, shared by discovery and configuration.
  'watch',
  // The core module: the validated options and the one ConsulApi; every feature stands on it.
  // Also the contracts layers share through it (the instance identity the locks tie to).
  'core',
  // Consul Connect native: the certificates followed live, the intentions' decisions, mTLS gates.
  'connect',
  // The instance cache, choose(), datacenter failover, the DNS resolver.
  'discovery',
  // The app's health as Consul sees it: indicators, the check pulse, the health endpoint.
  'health',
  // The registrar: address and check detection, state machine, keep-alive, shutdown.
  'registration',
  // Sessions, locks, leaders, semaphores: over the core and the instance identity (a token).
  'locks',
  // KV configuration: contexts, formats, hot reload, the change explorer.
  'config',
  // The typed clients of forFeature() that call discovered services.
  'clients',
  // The module layers and the public API: consul.module.ts, the module definition, index.ts.
  '*',
];

/**
 * Known violations in folders another branch is changing right now, each with its reason. An
 * entry that no longer matches a violation fails the test: delete it then.
 */
const PENDING: readonly { file: string; imports: string; why: string }[] = [];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The layer of a file of lib/: its top folder, a listed top-level file, or `*`. */
function layerOf(file: string): string {
  const rel = relative(LIB, file).split(sep);
  if (rel.length > 1) return rel[0];
  return LAYERS.includes(rel[0]) ? rel[0] : '*';
}

/** Every module specifier of a file: static, type-only, re-exports and import() calls. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((ref) => ref.fileName);
}

/** The file a relative specifier points at (`./x.js` → `x.ts`, `./x` → `x/index.ts`). */
function target(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts'), base];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? base;
}

interface Violation {
  file: string;
  imports: string;
  from: string;
  to: string;
}

function violations(): Violation[] {
  const found: Violation[] = [];
  for (const file of sources(LIB)) {
    const own = layerOf(file);
    for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const to = layerOf(target(file, specifier));
      if (LAYERS.indexOf(to) > LAYERS.indexOf(own))
        found.push({ file: relative(LIB, file).split(sep).join('/'), imports: specifier, from: own, to });
    }
  }
  return found;
}

function pending(v: Violation) {
  return PENDING.find((p) => p.file === v.file && (p.imports === '*' || p.imports === v.imports));
}

describe('layers of lib/', () => {
  const all = violations();

  it('lists every folder of lib/ as a layer', () => {
    const folders = readdirSync(LIB).filter((name) => statSync(join(LIB, name)).isDirectory());
    expect(folders.filter((folder) => !LAYERS.includes(folder))).toEqual([]);
  });

  it('has no import from a higher layer', () => {
    const report = all
      .filter((v) => !pending(v))
      .map((v) => `${v.file} imports '${v.imports}' (${v.from} → ${v.to}, a higher layer)`);
    expect(report).toEqual([]);
  });

  it('has no stale pending entry', () => {
    expect(PENDING.filter((p) => !all.some((v) => pending(v) === p)).map((p) => p.file)).toEqual([]);
  });
});
