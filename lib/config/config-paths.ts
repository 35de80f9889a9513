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

/**
 * What differs between two configurations, by dotted path (arrays are leaves): every changed,
 * added or removed leaf, and where a value changes kind (a string becomes an object, or back),
 * also the path itself with both whole values, so a handler for that path gets the new value.
 */
export function diffLeaves(previous: unknown, current: unknown, path = ''): ConfigChange[] {
  if (isPlainObject(previous) && isPlainObject(current)) {
    return [...new Set([...Object.keys(previous), ...Object.keys(current)])].flatMap((key) =>
      diffLeaves(previous[key], current[key], path ? `${path}.${key}` : key),
    );
  }
  if (JSON.stringify(previous) === JSON.stringify(current)) return [];
  // Present on both sides: one change at this path with both whole values (a leaf that changed,
  // or a value that changed kind), then the leaves below it that came or went.
  const replaced = previous !== undefined && current !== undefined;
  const before = leaves(previous, path);
  const after = leaves(current, path);
  const changes: ConfigChange[] = replaced ? [{ path, previous, current }] : [];
  for (const leaf of new Set([...before.keys(), ...after.keys()])) {
    if (!(replaced && leaf === path))
      changes.push({ path: leaf, previous: before.get(leaf), current: after.get(leaf) });
  }
  return changes;
}

function leaves(value: unknown, path: string, out = new Map<string, unknown>()): Map<string, unknown> {
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) leaves(item, path ? `${path}.${key}` : key, out);
  } else if (value !== undefined) {
    out.set(path, value);
  }
  return out;
}
