import { fileURLToPath } from 'node:url';
import { runScript } from '../helpers/run-script.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// The README's first command must keep working: this runs it the way CI would.
describe('npm run sample -- --check (real Consul agent started by the script)', () => {
  let stop: (() => void) | undefined;
  afterAll(() => stop?.()); // also after a timeout: the agent and the apps must not outlive the test

  it('runs user_service (gRPC, twice) and user_api (HTTP) through Consul, plain then Connect native, and leaves the catalog empty', async () => {
    const { CONSUL_HTTP_ADDR: _ignored, ...env } = process.env;
    const run = runScript(['scripts/sample.sh', '--check'], { cwd: ROOT, env, timeoutMs: 170_000 });
    stop = run.stop;
    const { stdout, stderr, code } = await run.done;
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    // The leader job's instances carry the locks' liveness check too.
    expect(stdout).toMatch(
      /user_service +user-service-\S+ +127\.0\.0\.1:\d+ +\[(?=[^\]]*user_service liveness for locks: passing)[^\]]*user_service gRPC health: passing/,
    );
    // user_api is a hybrid app: its HTTP server and its gRPC server are two services, each with its own check.
    expect(stdout).toMatch(/user_api +user-api-\S+ +127\.0\.0\.1:\d+ +\[user_api HTTP health \(\/health\): passing\]/);
    expect(stdout).toMatch(
      /user_api_grpc +user-api-grpc-\S+ +127\.0\.0\.1:\d+ +\[user_api_grpc gRPC health: passing\]/,
    );
    expect(stdout).toMatch(/"name":"Ada Lovelace","servedBy":"user-service-/);
    expect(stdout).toContain('both user_service instances answered');
    expect(stdout).toContain('the greeting followed the KV change');
    expect(stdout).toContain('DNS returns both user_service instances');
    expect(stdout).toMatch(/@LeaderOnly: user-service-\S+ runs the job every second, the other instance skips it/);
    expect(stdout).toMatch(/leader SIGKILLed: user-service-[12] took the job over in \d+ ms/);
    expect(stdout).toContain('every instance deregistered itself on shutdown');
    // Then Connect native: user_api calls user_service over mTLS, and the intentions decide.
    expect(stdout).toMatch(/user_service +user-service-\S+ +127\.0\.0\.1:\d+ +\[[^\]]*\] +Connect native/);
    expect(stdout).toContain('both user_service instances are registered Connect native');
    expect(stdout).toMatch(
      /user_service verified the caller's certificate: spiffe:\/\/[^/]+\.consul\/ns\/default\/dc\/dc1\/svc\/user_api/,
    );
    expect(stdout).toMatch(/without a certificate of the mesh: \{"statusCode":403/);
    expect(stdout).toMatch(
      /deny intention user_api → user_service created: calls refused \d+ ms later: .*PERMISSION_DENIED.*"user_api\\" may not call \\"user_service\\"/,
    );
    expect(stdout).toMatch(/intention deleted: calls flow again \d+ ms later: \{"id":1,"name":"Ada Lovelace"/);
    expect(stdout.match(/every instance deregistered itself on shutdown/g)).toHaveLength(2);
    expect(stdout).toContain('Check passed.');
  }, 180_000); // above the script's own limit: building and three apps on two cores
});
