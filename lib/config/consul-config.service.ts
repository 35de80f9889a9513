import { LOG_CONTEXT } from '../consul.constants.js';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type Observable, Subject } from 'rxjs';
import type { KvEntry } from '../consul-api/consul-api.types.js';
import type { ConsulApi } from '../consul-api/consul-api.js';
import { ConsulRequestError, isUnreachable } from '../consul-api/consul-request.error.js';
import { StateLog } from '../common/state-log.js';
import { BlockingQueryLoop } from '../watch/blocking-query.loop.js';
import { ConsulConfigParseError, parseContext } from './config-context.parser.js';
import { type ConfigChange, diffLeaves, getPath, mergeLayers } from './config-paths.js';
import { ConsulConfigLoadError, ConsulConfigMissingError } from './consul-config.errors.js';
import type { ConfigContext, ResolvedConfigOptions } from '../options/consul-config.options.js';
import type { ConfigObject } from './formats/config-formats.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';
import { ConsulKitUsageError } from '../common/consul-kit-usage.error.js';

/** How the watches of a config service behave (from the discovery options of the module). */
export interface ConfigWatchSettings {
  waitMs: number;
  rateLimit: { perSecond: number; burst: number };
  backoff: { initialMs: number; maxMs: number };
  /** Any server may answer (`discovery.consistency: "stale"`). */
  stale?: boolean;
}

type ContextState = { context: ConfigContext; layer: ConfigObject; raw: string };

/**
 * Configuration from Consul KV: loaded before the providers that inject it are created, merged
 * across contexts (most specific first), validated, and hot-reloaded through one blocking query
 * per context. A reload that does not parse or validate is rejected whole: the last good
 * configuration stays and one error names the key.
 */
export class ConsulConfigService implements OnApplicationShutdown {
  private readonly logger = new Logger(LOG_CONTEXT.config);
  private readonly changeSubject = new Subject<ConfigChange>();
  private readonly loops: Array<BlockingQueryLoop<KvEntry[]>> = [];
  private config: ConfigObject = {};

  /** Each changed leaf `{ path, previous, current }` after a reload; deletes have `current: undefined`. */
  readonly changes$: Observable<ConfigChange> = this.changeSubject.asObservable();

  private constructor(
    private readonly client: ConsulApi | undefined,
    private readonly options: ResolvedConfigOptions | undefined,
    private readonly states: ContextState[],
    /** The app's: its watches and reloads are reported there. */
    private readonly metrics: ConsulMetrics,
  ) {}

  /**
   * A service for an app that configured no `config`: every read says how to turn it on.
   *
   * @internal
   */
  static disabled(): ConsulConfigService {
    return new ConsulConfigService(undefined, undefined, [], new ConsulMetrics());
  }

  /**
   * Reads every context once (failing per `failFast`), then follows them if `watch` is on.
   *
   * @internal
   */
  static async load(
    client: ConsulApi,
    options: ResolvedConfigOptions,
    watch: ConfigWatchSettings,
    metrics: ConsulMetrics,
  ): Promise<ConsulConfigService> {
    const service = new ConsulConfigService(client, options, [], metrics);
    // All contexts at once (one round trip of start-up, not four); a failure is reported for the
    // first failing context in their order, as a sequential read would.
    const reads = await Promise.allSettled(options.contexts.map((context) => service.readAtBoot(context)));
    const failed = reads.find((read) => read.status === 'rejected');
    if (failed) throw failed.reason;
    const indexes: number[] = [];
    for (const read of reads as Array<PromiseFulfilledResult<{ state: ContextState; index: number }>>) {
      service.states.push(read.value.state);
      indexes.push(read.value.index);
    }
    const merged = service.validated(mergeLayers(service.states.map((s) => s.layer)));
    if (merged instanceof Error) {
      if (options.failFast)
        throw new ConsulConfigLoadError(`Configuration from Consul KV is invalid: ${merged.message}`);
      service.logger.error(`Configuration from Consul KV is invalid, starting empty: ${merged.message}`);
    } else {
      service.config = merged;
    }
    if (options.watch) service.states.forEach((state, i) => service.follow(i, indexes[i], watch));
    return service;
  }

  /** The value at a dotted path (`db.host`), or `fallback`. */
  get<T = unknown>(path: string, fallback?: T): T {
    const value = getPath(this.enabled('get').config, path);
    return (value === undefined ? fallback : value) as T;
  }

  /** The value at a dotted path; throws {@link ConsulConfigMissingError} naming it when unset. */
  getOrThrow<T = unknown>(path: string): T {
    const value = getPath(this.enabled('getOrThrow').config, path);
    if (value === undefined)
      throw new ConsulConfigMissingError(
        path,
        this.states.map((s) => s.context.prefix),
      );
    return value as T;
  }

  /** A deep copy of the whole configuration. */
  snapshot<T extends object = ConfigObject>(): T {
    return structuredClone(this.enabled('snapshot').config) as T;
  }

  /**
   * Writes a KV key (strings as they are, anything else as JSON). With `cas`, only if the key's
   * ModifyIndex is still `cas` (0: only if it does not exist); resolves whether it was written.
   */
  async set(key: string, value: unknown, options: { cas?: number } = {}): Promise<boolean> {
    const client = this.enabled('set').client!;
    return client.kvPut(key, typeof value === 'string' ? value : JSON.stringify(value), options.cas);
  }

  onApplicationShutdown(): void {
    this.loops.forEach((loop) => loop.stop());
    this.changeSubject.complete();
  }

  private enabled(method: string): this {
    if (!this.options) {
      throw new ConsulKitUsageError(
        `ConsulConfigService.${method}()`,
        'Consul KV configuration is off: pass ConsulModule.forRoot({ ..., config: { ... } }) to load it',
      );
    }
    return this;
  }

  private async readAtBoot(context: ConfigContext): Promise<{ state: ContextState; index: number }> {
    const where = context.documentKey ?? context.prefix;
    try {
      const { entries, index } = await this.client!.kvTree(context.prefix, { index: 0, waitMs: 0 });
      const parsed = parseContext(context, entries);
      if (!parsed.present && !context.optional) {
        throw new ConsulConfigLoadError(
          `Consul KV has nothing at "${where}", a context listed in config.contexts; create it or mark it optional: true`,
        );
      }
      return { state: { context, layer: parsed.layer, raw: JSON.stringify(entries) }, index };
    } catch (error) {
      const message = `${(error as Error).message}${bootFailureFix(error, context)}`;
      if (this.options!.failFast) {
        throw error instanceof ConsulConfigLoadError
          ? error
          : new ConsulConfigLoadError(`Could not load configuration from "${where}": ${message}`);
      }
      this.logger.error(`Could not load configuration from "${where}", going on without it: ${message}`);
      return { state: { context, layer: {}, raw: '' }, index: 0 };
    }
  }

  private follow(position: number, index: number, settings: ConfigWatchSettings): void {
    const state = this.states[position];
    const health = new StateLog<'ok' | 'invalid'>(this.logger);
    const { prefix } = state.context;
    const observer = this.metrics.watch({ kind: 'kv', query: `KV prefix "${prefix}"`, context: prefix });
    const applied = { 'consul.config.context': prefix, 'consul.config.outcome': 'applied' };
    const refused = { 'consul.config.context': prefix, 'consul.config.outcome': 'refused' };
    const loop = new BlockingQueryLoop<KvEntry[]>(
      async (at, waitMs, signal) =>
        this.client!.kvTree(state.context.prefix, { index: at, waitMs, signal, stale: settings.stale }).then((r) => ({
          value: r.entries,
          index: r.index,
        })),
      {
        name: `KV prefix "${state.context.prefix}"`,
        ...settings,
        // Keys and values only: a lock taken on a key under the prefix changes its Session and
        // ModifyIndex, not the configuration.
        equals: (a, b) => JSON.stringify(a.map(content)) === JSON.stringify(b.map(content)),
        logger: this.logger,
        wake: this.client!.reachability.onReconnect,
        observer,
        seed: { value: state.raw ? (JSON.parse(state.raw) as KvEntry[]) : [], index },
      },
    );
    loop.onChange((entries) => {
      try {
        const { layer } = parseContext(state.context, entries);
        this.apply(position, layer, JSON.stringify(entries));
        this.metrics.configReloads.add(1, applied);
        health.enter('ok', 'log', `Configuration from "${state.context.prefix}" reloaded`);
      } catch (error) {
        this.metrics.configReloads.add(1, refused);
        // One line per bad state, not per retry: the same bad value is not reported twice.
        health.enter('invalid', 'error', `${(error as Error).message}; keeping the last good configuration`);
      }
    });
    this.loops.push(loop);
    loop.start();
  }

  /** Swaps one context's layer in, if the merged result validates; emits each changed leaf. */
  private apply(position: number, layer: ConfigObject, raw: string): void {
    const candidateStates = this.states.map((s, i) => (i === position ? { ...s, layer, raw } : s));
    const merged = this.validated(mergeLayers(candidateStates.map((s) => s.layer)));
    if (merged instanceof Error)
      throw new Error(
        `Configuration reloaded from "${this.states[position].context.prefix}" failed validation: ${merged.message}`,
      );
    this.states[position] = candidateStates[position];
    const previous = this.config;
    this.config = merged;
    for (const change of diffLeaves(previous, merged)) this.changeSubject.next(change);
  }

  private validated(config: ConfigObject): ConfigObject | Error {
    if (!this.options?.validate) return config;
    try {
      const result = this.options.validate(config);
      return result !== undefined && result !== null && typeof result === 'object' ? (result as ConfigObject) : config;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }
}

/** What to do about a context that could not be read at boot, said after the cause. */
function bootFailureFix(error: unknown, context: ConfigContext): string {
  const orBootWithout = 'or set config.failFast: false to boot without it (and pick it up once it can be read)';
  if (error instanceof ConsulRequestError && error.forbidden) {
    return `. The ACL token in consul.token needs key:read on "${context.prefix}"`;
  }
  if (isUnreachable(error)) return `. Check consul.host and consul.port (is the agent running?), ${orBootWithout}`;
  if (error instanceof ConsulConfigParseError) return `. Fix the value in Consul KV, ${orBootWithout}`;
  return '';
}

function content(entry: KvEntry): [string, string | null] {
  return [entry.Key, entry.Value];
}
