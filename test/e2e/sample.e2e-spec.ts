import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// The README's first command must keep working: this runs it the way CI would.
describe('npm run sample -- --check (real Consul agent started by the script)', () => {
  it('starts Consul, registers user_api passing, answers, and leaves the catalog empty on shutdown', async () => {
    const { CONSUL_HTTP_ADDR: _ignored, ...env } = process.env;
    const { stdout } = await promisify(execFile)('bash', ['scripts/sample.sh', '--check'], {
      cwd: ROOT,
      env,
      timeout: 120_000,
      maxBuffer: 10 * 1024 * 1024,
    });
    expect(stdout).toMatch(/user_api is registered and passing in Consul/);
    expect(stdout).toMatch(/"name":"Ada Lovelace"/);
    expect(stdout).toContain('Check passed: registered, passing, answered, and deregistered on shutdown.');
  });
});
