import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { HELLO_PROTO } from '../helpers/consul-microservice.js';
import { runScript } from '../helpers/run-script.js';
import { ttlInstance } from '../helpers/service-checks.js';
import { startGreeter } from '../helpers/upstreams.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APP = fileURLToPath(new URL('../fixtures/two-copies-app.mjs', import.meta.url));
const CALLS = 12;

/**
 * Two copies of the built package (dist/, copied to two folders) in one process, sharing the
 * repository's node_modules and so one @grpc/grpc-js, which holds one `consul:` resolver and one
 * `nestjs_consul_kit` policy for the whole process. Each copy runs two apps against its own
 * agent, where "greeter" is another instance: no call may cross over.
 */
describe('two copies of the package in one process, one grpc-js (real agents, built package)', () => {
  const agents: ConsulAgent[] = [];
  const greeters: Array<Awaited<ReturnType<typeof startGreeter>>> = [];
  let dir: string | undefined;
  let stop: (() => void) | undefined;

  afterAll(async () => {
    stop?.();
    await Promise.all(greeters.map((g) => g.app.close()));
    await Promise.all(agents.map((agent) => agent.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("each copy's apps reach only their own agent's instances, whichever copy registered last, and after others close", async () => {
    const build = await runScript(['scripts/build.sh'], { cwd: ROOT, timeoutMs: 120_000 }).done;
    expect({ code: build.code, stderr: build.stderr }).toEqual({ code: 0, stderr: '' });
    dir = await mkdtemp(join(tmpdir(), 'consul-kit-copies-'));
    // One node_modules for both copies: the repository's (so one grpc-js, one @nestjs/core).
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const copies = ['copy-a', 'copy-b'].map((name) => join(dir!, name));
    for (const copy of copies) {
      await cp(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
      await writeFile(join(copy, 'package.json'), JSON.stringify({ name: 'nestjs-consul-kit', type: 'module' }));
    }

    for (const name of ['a', 'b']) {
      const [agent, greeter] = await Promise.all([ConsulAgent.start(), startGreeter(name)]);
      agents.push(agent);
      greeters.push(greeter);
      await agent.register(ttlInstance(`greeter-${name}`, 'greeter', greeter.port));
    }

    const args = [APP, ...copies, String(agents[0].httpPort), String(agents[1].httpPort), HELLO_PROTO, String(CALLS)];
    const run = runScript(['-c', 'exec "$0" "$@"', process.execPath, ...args], { cwd: dir, timeoutMs: 60_000 });
    stop = run.stop;
    const { stdout, stderr, code } = await run.done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { copies?: boolean; app?: string; answers?: string[] });
    expect(lines[0]).toEqual({ copies: true }); // two module instances, not one loaded twice
    const answers = Object.fromEntries(lines.filter((l) => l.app).map((l) => [l.app, [...new Set(l.answers)]]));
    expect(answers).toEqual({
      a1: ['a:x'],
      b1: ['b:x'],
      b2: ['b:x'],
      a2: ['a:x'],
      'b2 after a1 and b1 closed': ['b:x'],
      'a2 after a1 and b1 closed': ['a:x'],
    });
  }, 120_000);
});
