import { spawn } from 'node:child_process';

/**
 * Runs a project script in its own process group and collects its output. `stop()` ends the whole
 * group (the script and everything it started), so a test that times out leaves nothing running.
 */
export function runScript(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }) {
  const child = spawn('bash', args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  const timer = setTimeout(stop, options.timeoutMs);
  const done = new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    }),
  );
  return { done, stop };
}
