import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// What a user installs: the packed tarball in a fresh app, loaded as ESM and through require(),
// its declarations compiled by the consumer's tsc.
describe('the published package (npm pack → fresh app)', () => {
  it('installs, imports as ESM and CommonJS, and type-checks in ESM and CommonJS consumers', async () => {
    const { stdout } = await promisify(execFile)('bash', ['scripts/check-package.sh'], {
      cwd: ROOT,
      timeout: 240_000,
      maxBuffer: 10 * 1024 * 1024,
    });
    for (const step of [
      'declarations import only dependencies and peers',
      'imports as ESM',
      'loads through require() from CommonJS',
      'types compile in an ESM and a CommonJS consumer',
      'all checks passed',
    ]) {
      expect(stdout).toContain(`check-package: ${step}`);
    }
  });
});
