import { createRequire } from 'node:module';
import { setPath } from '../config-paths.js';
import { parseProperties } from './properties.parser.js';
import type { ConfigFormat, ConfigObject } from '../../options/consul-config.options.js';

// The option section names the formats; the parsers live here.
export type { ConfigFormat, ConfigObject } from '../../options/consul-config.options.js';

let yaml: typeof import('yaml') | undefined;
/** The YAML parser, loaded on first use: importing it costs every app start-up time, and most read no YAML. */
function parseYaml(text: string): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text);
}

/** A key's value in `tree` format: valid JSON becomes that JSON value, anything else stays a string. */
export function treeValue(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return text;
  try {
    return JSON.parse(trimmed);
  } catch {
    return text;
  }
}

/** Parses a whole document. Throws a plain Error saying what is wrong (the caller names the key). */
export function parseDocument(format: Exclude<ConfigFormat, 'tree'>, text: string): ConfigObject {
  let value: unknown;
  if (format === 'json') value = JSON.parse(text);
  else if (format === 'yaml') value = parseYaml(text);
  else {
    const nested: ConfigObject = {};
    for (const [key, item] of Object.entries(parseProperties(text))) setPath(nested, key.split('.'), item);
    value = nested;
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`expected an object at the top level, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value as ConfigObject;
}
