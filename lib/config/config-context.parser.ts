import { ConsulKitError } from '../common/consul-kit.error.js';
import type { KvEntry } from '../consul-api/consul-api.types.js';
import { setPath } from './config-paths.js';
import type { ConfigContext } from '../options/consul-config.options.js';
import { type ConfigObject, parseDocument, treeValue } from './formats/config-formats.js';

/** A KV value that could not be read as configuration; names the key. */
export class ConsulConfigParseError extends ConsulKitError {
  override readonly name = 'ConsulConfigParseError';

  constructor(
    readonly key: string,
    format: string,
    reason: string,
  ) {
    super(`Consul KV key "${key}" is not valid ${format}: ${reason}`);
  }
}

/** The layer a context contributes, and whether it exists at all in KV. */
export interface ParsedContext {
  layer: ConfigObject;
  present: boolean;
}

/** Turns the KV entries under a context's prefix into its configuration layer. */
export function parseContext(context: ConfigContext, entries: readonly KvEntry[]): ParsedContext {
  if (context.format !== 'tree') {
    const entry = entries.find((e) => e.Key === context.documentKey);
    if (!entry || entry.Value === null) return { layer: {}, present: false };
    try {
      return { layer: parseDocument(context.format, entry.Value), present: true };
    } catch (error) {
      throw new ConsulConfigParseError(
        entry.Key,
        context.format.toUpperCase(),
        (error as Error).message.split('\n')[0],
      );
    }
  }
  const layer: ConfigObject = {};
  let present = false;
  for (const entry of entries) {
    if (!entry.Key.startsWith(context.prefix)) continue;
    present = true;
    const relative = entry.Key.slice(context.prefix.length);
    // Folders (keys ending in "/") and keys without a value hold no configuration.
    if (relative === '' || relative.endsWith('/') || entry.Value === null) continue;
    setPath(layer, relative.split('/'), treeValue(entry.Value));
  }
  return { layer, present };
}
