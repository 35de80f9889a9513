import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// The README's first command must keep working: this runs it the way CI would.
describe('npm run sample -- --check (real Consul agent started by the script)', () => {
  it('runs user_service (gRPC, twice) and user_api (HTTP) through Consul, and leaves the catalog empty', async () => {
    const { CONSUL_HTTP_ADDR: _ignored, ...env } = process.env;
    const { stdout } = await promisify(execFile)('bash', ['scripts/sample.sh', '--check'], {
      cwd: ROOT,
      env,
      timeout: 120_000,
      maxBuffer: 10 * 1024 * 1024,
    });
    expect(stdout).toMatch(/user_service +user-service-\S+ +127\.0\.0\.1:\d+ +\[user_service gRPC health: passing\]/);
    expect(stdout).toMatch(/"name":"Ada Lovelace","servedBy":"user-service-/);
    expect(stdout).toContain('both user_service instances answered');
    expect(stdout).toContain('the greeting followed the KV change');
    expect(stdout).toContain('DNS returns both user_service instances');
    expect(stdout).toContain('every instance deregistered itself on shutdown');
    expect(stdout).toContain('Check passed.');
  });
});
