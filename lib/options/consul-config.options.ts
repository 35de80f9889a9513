import type { SectionKeys, Validator } from './validator.js';

/**
 * How a context is stored in KV. `tree`: one key per value (`config/app/db/host`). The others:
 * one data key under the context holding a whole document.
 */
export type ConfigFormat = 'tree' | 'json' | 'yaml' | 'properties';

export type ConfigObject = Record<string, unknown>;

/** An extra KV key or prefix to load, above the default contexts. */
export interface ConsulConfigContextOptions {
  /** A prefix (`config/shared/`) in `tree` format, or a folder holding `dataKey` in the others. */
  key: string;
  format?: ConfigFormat;
  /** May be absent. Default `false`: an explicit context must exist. */
  optional?: boolean;
}

/** KV configuration: `ConsulModule.forRoot({ config })`, `ConsulConfigModule`, `consulConfigLoader()`. */
export interface ConsulConfigOptions {
  /** Root of the configuration in KV. Default `"config"`. */
  prefix?: string;
  /** Application name in context keys. Default: `service.name` (`ConsulModule`), else none. */
  app?: string;
  /** Active profiles, the last the most specific. Default: `[NODE_ENV]` when set. */
  profiles?: string[];
  /** Between app and profile in context names (`user_api,production`). Default `","`. */
  separator?: string;
  /** How the default contexts are stored. Default `"tree"`. */
  format?: ConfigFormat;
  /** The key holding the document for `json`, `yaml` and `properties`. Default `"data"`. */
  dataKey?: string;
  /** Extra contexts, the first the most specific, all above the default ones. */
  contexts?: ConsulConfigContextOptions[];
  /** Fail bootstrap when Consul or a context cannot be read. Default `true`. */
  failFast?: boolean;
  /** Follow changes (hot reload). Default `true`. */
  watch?: boolean;
  /** Runs on every load and reload; throw to reject. May return a replacement (e.g. a parsed, typed object). */
  validate?: (config: ConfigObject) => unknown;
}

/** One layer of configuration, where it lives in KV and how it is stored. */
export interface ConfigContext {
  /** Prefix watched in KV, ending with `/`. */
  prefix: string;
  format: ConfigFormat;
  /** Full key of the document for non-tree formats. */
  documentKey?: string;
  optional: boolean;
}

export interface ResolvedConfigOptions {
  contexts: ConfigContext[];
  failFast: boolean;
  watch: boolean;
  validate?: (config: ConfigObject) => unknown;
}

const FORMATS: readonly ConfigFormat[] = ['tree', 'json', 'yaml', 'properties'];
const KEYS: SectionKeys<ConsulConfigOptions> = {
  prefix: true,
  app: true,
  profiles: true,
  separator: true,
  format: true,
  dataKey: true,
  contexts: true,
  failFast: true,
  watch: true,
  validate: true,
};
const CONTEXT_KEYS: SectionKeys<ConsulConfigContextOptions> = { key: true, format: true, optional: true };

/**
 * Validates `config` options and lays out the contexts, most specific first:
 * extra contexts, `<prefix>/<app><sep><profile>/` (last profile first), `<prefix>/<app>/`,
 * `<prefix>/application<sep><profile>/`, `<prefix>/application/`.
 */
export function resolveConfigOptions(
  parent: Validator,
  raw: unknown,
  defaultApp: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConfigOptions | undefined {
  if (raw === undefined) return undefined;
  const v = parent.at('config');
  const options = parent.section<ConsulConfigOptions>(raw, 'config', KEYS, { required: true });
  const prefix = (v.string(options.prefix, 'prefix') ?? 'config').replace(/^\/+|\/+$/g, '');
  const app = v.string(options.app, 'app') ?? defaultApp;
  const profiles =
    options.profiles === undefined ? (env.NODE_ENV ? [env.NODE_ENV] : []) : v.stringArray(options.profiles, 'profiles');
  const separator = v.string(options.separator, 'separator') ?? ',';
  const format = v.oneOf(options.format, 'format', FORMATS) ?? 'tree';
  const dataKey = v.string(options.dataKey, 'dataKey') ?? 'data';
  if (options.validate !== undefined && typeof options.validate !== 'function') {
    v.fail('validate', 'expected a function', "pass (config) => config, e.g. a zod schema's parse");
  }
  const context = (name: string, contextFormat: ConfigFormat, optional: boolean): ConfigContext => {
    const folder = `${name.replace(/^\/+|\/+$/g, '')}/`;
    return {
      prefix: folder,
      format: contextFormat,
      documentKey: contextFormat === 'tree' ? undefined : `${folder}${dataKey}`,
      optional,
    };
  };
  if (!Array.isArray(options.contexts) && options.contexts !== undefined) {
    v.fail('contexts', 'expected an array of { key, format?, optional? }');
  }
  const extra: unknown[] = Array.isArray(options.contexts) ? options.contexts : [];
  const contexts = extra.flatMap((given, i) => {
    const item = v.section<ConsulConfigContextOptions>(given, `contexts[${i}]`, CONTEXT_KEYS, { required: true });
    const at = v.at(`contexts[${i}]`);
    const key = at.string(item.key, 'key');
    if (item.key === undefined) at.fail('key', 'is required', 'give the KV key or prefix of this context');
    const itemFormat = at.oneOf(item.format, 'format', FORMATS) ?? format;
    return key ? [context(key, itemFormat, at.boolean(item.optional, 'optional', false))] : [];
  });
  const names = (base: string) => [...profiles.toReversed().map((profile) => `${base}${separator}${profile}`), base];
  for (const name of [...(app ? names(`${prefix}/${app}`) : []), ...names(`${prefix}/application`)]) {
    contexts.push(context(name, format, true));
  }
  return {
    contexts,
    failFast: v.boolean(options.failFast, 'failFast', true),
    watch: v.boolean(options.watch, 'watch', true),
    validate:
      typeof options.validate === 'function' ? (options.validate as ResolvedConfigOptions['validate']) : undefined,
  };
}
