import { hostname } from 'node:os';

/**
 * The default instance id, `${name}-${hostname}-${port}`, lower-cased with anything outside
 * `[a-z0-9-]` turned into `-`: unique per host and port (so two instances never overwrite
 * each other) and stable across restarts (so a restart replaces its own old entry).
 */
export function defaultInstanceId(name: string, port: number, host: string = hostname()): string {
  return `${name}-${host}-${port}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-|-$/g, '');
}
