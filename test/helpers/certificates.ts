import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consulBin } from './consul-agent.js';

/** A CA and certificates made by Consul's own `consul tls` commands, in a fresh folder. */
export function makeCertificates(): { dir: string; file: (name: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'consul-tls-'));
  for (const args of [
    ['tls', 'ca', 'create'],
    ['tls', 'cert', 'create', '-server', '-dc', 'dc1'],
    ['tls', 'cert', 'create', '-client', '-dc', 'dc1'],
  ]) {
    execFileSync(consulBin(), args, { cwd: dir, stdio: 'ignore' });
  }
  return { dir, file: (name) => join(dir, name) };
}
