import { connect } from 'node:net';
import { Backoff } from '../common/backoff.js';
import { AGAIN, retryUntil } from '../common/retry.js';

/** True when a TCP connection to host:port succeeds within `timeoutMs`. */
export function acceptsConnections(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Waits until host:port accepts TCP connections, polling with a delay that grows to 1 s.
 * Resolves `false` if `signal` aborts first. Calls `onSlow` once after about 10 s of waiting.
 */
export async function waitForPort(
  host: string,
  port: number,
  signal: AbortSignal,
  onSlow?: () => void,
): Promise<boolean> {
  const started = Date.now();
  let warned = false;
  const open = await retryUntil(
    async () => {
      if (await acceptsConnections(host, port)) return true;
      if (!warned && Date.now() - started > 10_000) {
        warned = true;
        onSlow?.();
      }
      return AGAIN;
    },
    // No jitter (random = 1): 25, 50, 100 … 1 000 ms, polling the app's own port.
    { backoff: new Backoff(25, 1_000, 2, () => 1), signal },
  );
  return open ?? false;
}
