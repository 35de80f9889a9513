import type { ConfigObject } from './formats/config-formats.js';

/** Splits `db.host` (or `db/host`) into path segments. */
export function splitPath(path: string): string[] {
  return path.split(/[./]/).filter((segment) => segment !== '');
}

/** The value at `path` in `config`, or undefined. */
export function getPath(config: unknown, path: string): unknown {
  let node = config;
  for (const segment of splitPath(path)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as ConfigObject)[segment];
  }
  return node;
}

/** Sets `value` at `segments` in `target`, creating objects on the way (and replacing non-objects). */
export function setPath(target: ConfigObject, segments: readonly string[], value: unknown): void {
  let node = target;
  segments.slice(0, -1).forEach((segment) => {
    const next = node[segment];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[segment] = {};
    node = node[segment] as ConfigObject;
  });
  if (segments.length > 0) node[segments[segments.length - 1]] = value;
}

function isPlainObject(value: unknown): value is ConfigObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Merges layers, the first winning: objects merge key by key, anything else is taken whole. */
export function mergeLayers(layers: readonly ConfigObject[]): ConfigObject {
  const result: ConfigObject = {};
  for (const layer of layers.toReversed()) mergeInto(result, layer);
  return result;
}

function mergeInto(target: ConfigObject, source: ConfigObject): void {
  for (const [key, value] of Object.entries(source)) {
    if (isPlainObject(value) && isPlainObject(target[key])) mergeInto(target[key] as ConfigObject, value);
    else target[key] = isPlainObject(value) ? mergeLayers([value]) : value;
  }
}

/** One changed leaf: a value added, changed or removed (`current` undefined). */
export interface ConfigChange {
  path: string;
  previous: unknown;
  current: unknown;
}

/** Every leaf that differs between two configurations, by dotted path (arrays are leaves). */
export function diffLeaves(previous: unknown, current: unknown): ConfigChange[] {
  const before = leaves(previous);
  const after = leaves(current);
  const changes: ConfigChange[] = [];
  for (const path of new Set([...before.keys(), ...after.keys()])) {
    if (JSON.stringify(before.get(path)) !== JSON.stringify(after.get(path))) {
      changes.push({ path, previous: before.get(path), current: after.get(path) });
    }
  }
  return changes;
}

function leaves(value: unknown, path = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) leaves(item, path ? `${path}.${key}` : key, out);
  } else if (value !== undefined) {
    out.set(path, value);
  }
  return out;
}
