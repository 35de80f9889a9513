import { fileURLToPath } from 'node:url';
import { runScript } from '../helpers/run-script.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// What a user installs: the packed tarball in a fresh app, loaded as ESM and through require(),
// its declarations compiled by the consumer's tsc.
describe('the published package (npm pack → fresh app)', () => {
  let stop: (() => void) | undefined;
  afterAll(() => stop?.());

  it('installs, imports as ESM and CommonJS, and type-checks in ESM and CommonJS consumers', async () => {
    const run = runScript(['scripts/check-package.sh'], { cwd: ROOT, timeoutMs: 240_000 });
    stop = run.stop;
    const { stdout, stderr, code } = await run.done;
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    for (const step of [
      'declarations import only dependencies and peers',
      'imports as ESM',
      'loads through require() from CommonJS',
      'types compile in an ESM and a CommonJS consumer',
      'all checks passed',
    ]) {
      expect(stdout).toContain(`check-package: ${step}`);
    }
  }, 250_000); // above the script's own limit
});
