import { fileURLToPath } from 'node:url';
import { runScript } from '../helpers/run-script.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// What a user installs: the packed tarball (nothing test-only in it) in a fresh app, loaded as ESM and
// through require(), its declarations compiled by the consumer's tsc on TypeScript 5, 6 and 7.
describe('the published package (npm pack → fresh app)', () => {
  let stop: (() => void) | undefined;
  afterAll(() => stop?.());

  it('packs no test-only file, installs, imports as ESM and CommonJS, and type-checks in ESM and CommonJS consumers on TS 5, 6, 7', async () => {
    const run = runScript(['scripts/check-package.sh'], { cwd: ROOT, timeoutMs: 240_000 });
    stop = run.stop;
    const { stdout, stderr, code } = await run.done;
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    for (const step of [
      'no test-only file is packed',
      'declarations import only dependencies and peers',
      'imports as ESM',
      'loads through require() from CommonJS',
      'types compile on TypeScript 7.',
      'types compile on TypeScript 6.',
      'types compile on TypeScript 5.9.',
      'types compile on TypeScript 5.7.3 in an ESM consumer and a CommonJS one (node10 resolution; nodenext gives TS1479)',
      'types compile in an ESM and a CommonJS consumer',
      'all checks passed',
    ]) {
      expect(stdout).toContain(`check-package: ${step}`);
    }
  }, 250_000); // above the script's own limit
});
