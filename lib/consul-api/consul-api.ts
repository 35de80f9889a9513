import { EventEmitter } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Consul from 'consul';
import type { ResolvedConsulOptions } from '../options/resolved-options.js';
import type {
  AgentService,
  AgentServiceRegistration,
  CheckStatus,
  HealthServiceEntry,
  KvEntry,
} from './consul-api.types.js';
import { AgentReachability } from './agent-reachability.js';
import { ConsulRequestError } from './consul-request.error.js';

interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

interface Call {
  /** Said in errors: "could not <action>". */
  action: string;
  method: 'GET' | 'PUT';
  path: string;
  params?: Record<string, string | { encode: false; toString(): string }>;
  query?: Record<string, string | number | boolean | string[]>;
  body?: unknown;
  /** Statuses that are answers, not errors (e.g. 404 when asking whether a service exists). */
  accept?: readonly number[];
  timeoutMs?: number;
  /** Aborts the request (used to stop blocking queries at shutdown). */
  signal?: AbortSignal;
  /** The caller reports a failure itself: not counted toward the app-wide "unreachable" warning. */
  quiet?: boolean;
  /** Send `body` as it is (a KV value), not as JSON. */
  raw?: boolean;
  /** Use DELETE instead of `method`. */
  deleteMethod?: boolean;
}

/** Per-call options of the registrar's calls (shutdown deadline, cancellation, failFast). */
export interface CallOptions {
  /** Cancels the request (shutdown). A cancelled request says nothing about the agent. */
  signal?: AbortSignal;
  /** Instead of `consul.timeout`. */
  timeoutMs?: number;
  /**
   * The caller reports a failure itself (shutdown, `failFast`): it does not start the app-wide
   * "Retrying in the background" warning, which would be false then.
   */
  quiet?: boolean;
}

/** What to ask `/v1/health/service/:name`. */
export interface HealthQuery {
  service: string;
  dc?: string;
  /** All must match. */
  tags?: readonly string[];
  passingOnly?: boolean;
  /** Consul filter expression. */
  filter?: string;
  /** Sort by round-trip time from this node (`_agent` for the local agent). */
  near?: string;
  /** Let any server answer (`?stale`), not only the leader. */
  stale?: boolean;
}

type PapiRequest = { res?: { statusCode: number; headers: RawResponse['headers']; body?: unknown }; err?: Error };
type PapiClient = { _request(opts: object, ...middleware: unknown[]): Promise<unknown>; destroy(): void };

/**
 * The only code that talks to the `consul` package. It uses the package's transport
 * (keep-alive agent, base URL, timeouts) and its request pipeline directly, because the
 * package's typed helpers miss endpoints we need (`agent/service/:id`, `agent/check/update`)
 * and return untyped results; everything above this class sees typed shapes and
 * {@link ConsulRequestError}s that name the agent and never carry the token.
 */
export class ConsulApi {
  private readonly consul: PapiClient;
  private readonly agent: HttpAgent;
  /**
   * One line when the agent stops answering, one when it is back, for the whole app; while it is
   * away, a leader probe every second tells sleeping loops the moment it answers again.
   */
  readonly reachability = new AgentReachability({ probe: () => this.leader(1_000) });

  constructor(private readonly options: ResolvedConsulOptions['consul']) {
    const { host, port, secure, ca, cert, key } = options;
    // Keep-alive, but an idle connection closes after IDLE_SOCKET_MS: a burst (every loop retrying
    // at once when the agent is back) must not leave its extra connections open for good. Active
    // requests are not affected: papi sets each request's own timeout on its socket.
    const agentOptions = { keepAlive: true, timeout: IDLE_SOCKET_MS };
    this.agent = secure ? new HttpsAgent({ ...agentOptions, ca, cert, key }) : new HttpAgent(agentOptions);
    this.consul = new Consul({ host, port, secure, agent: this.agent } as any) as unknown as PapiClient;
  }

  /** `http(s)://host:port` of the agent, for messages. */
  get address(): string {
    return this.options.address;
  }

  /** The leader's address, or `''` when the cluster has none. */
  async leader(timeoutMs?: number, options: CallOptions = {}): Promise<string> {
    const res = await this.call({
      action: 'report its leader',
      method: 'GET',
      path: '/status/leader',
      timeoutMs,
      ...options,
    });
    return typeof res.body === 'string' ? res.body : '';
  }

  /**
   * One (possibly blocking) read of a service's instances with their checks. With `index` > 0
   * Consul holds the answer until something changes or `waitMs` passes; with 0 it answers at once.
   */
  async healthService(
    query: HealthQuery,
    { index, waitMs, signal }: { index: number; waitMs: number; signal?: AbortSignal },
  ): Promise<{ entries: HealthServiceEntry[]; index: number }> {
    const params: Record<string, string | string[] | number> = {};
    if (query.dc) params.dc = query.dc;
    if (query.tags?.length) params.tag = [...query.tags];
    if (query.passingOnly) params.passing = 1;
    if (query.filter) params.filter = query.filter;
    if (query.near) params.near = query.near;
    if (query.stale) params.stale = '';
    if (index > 0) Object.assign(params, { index, wait: `${Math.ceil(waitMs / 1000)}s` });
    const action = `list instances of service "${query.service}"${query.dc ? ` in ${query.dc}` : ''}`;
    const res = await this.call({
      action,
      method: 'GET',
      path: '/health/service/{service}',
      params: { service: query.service },
      query: params as Call['query'],
      // Consul adds up to wait/16 of jitter; the timeout must outlast that, or every quiet watch errors.
      timeoutMs: index > 0 ? waitMs + waitMs / 16 + this.options.timeoutMs : undefined,
      signal,
    });
    // Odd entries are the mapper's to skip (with one log line); a body that is no list at all is
    // not "no instances": it is an error, so the watch keeps the last known answer.
    return {
      entries: this.expectList<HealthServiceEntry>(res, action),
      index: consulIndex(res),
    };
  }

  /**
   * Every key under `prefix` (a blocking read when `index` > 0). A prefix with no key is an
   * empty list, not an error.
   */
  async kvTree(
    prefix: string,
    { index, waitMs, signal, stale }: { index: number; waitMs: number; signal?: AbortSignal; stale?: boolean },
  ): Promise<{ entries: KvEntry[]; index: number }> {
    const action = `read the KV prefix "${prefix}"`;
    const res = await this.call({
      action,
      method: 'GET',
      path: '/kv/{prefix}',
      params: { prefix: encodeKvPath(prefix) },
      query: {
        recurse: true,
        ...(index > 0 ? { index, wait: `${Math.ceil(waitMs / 1000)}s` } : {}),
        ...(stale ? { stale: '' } : {}),
      },
      accept: [404],
      timeoutMs: index > 0 ? waitMs + waitMs / 16 + this.options.timeoutMs : undefined,
      signal,
    });
    const entries = res.statusCode === 404 ? [] : this.expectList<Record<string, unknown>>(res, action);
    // One odd entry makes the whole answer suspect: configuration is replaced only by a sound one.
    const odd = entries.find(
      (entry) =>
        typeof entry?.Key !== 'string' ||
        (entry.Value !== null && (typeof entry.Value !== 'string' || !BASE64.test(entry.Value))),
    );
    if (odd !== undefined) {
      throw new ConsulRequestError(action, this.address, res.statusCode, `unexpected KV entry ${preview(odd)}`);
    }
    return {
      entries: entries.map((entry) => ({
        Key: entry.Key as string,
        Value: entry.Value === null ? null : Buffer.from(entry.Value as string, 'base64').toString('utf8'),
        ModifyIndex: Number(entry.ModifyIndex) || 0,
      })),
      index: consulIndex(res),
    };
  }

  /** Writes `value` at `key`; with `cas`, only if the key's ModifyIndex is still `cas` (0: only if absent). */
  async kvPut(key: string, value: string, cas?: number): Promise<boolean> {
    const res = await this.call({
      action: `write the KV key "${key}"`,
      method: 'PUT',
      path: '/kv/{key}',
      params: { key: encodeKvPath(key) },
      query: cas === undefined ? {} : { cas },
      body: value,
      raw: true,
    });
    return res.body === true || bodyText(res.body) === 'true';
  }

  async kvDelete(key: string): Promise<void> {
    await this.call({
      action: `delete the KV key "${key}"`,
      method: 'PUT',
      path: '/kv/{key}',
      params: { key: encodeKvPath(key) },
      deleteMethod: true,
    });
  }

  /** Known datacenters, nearest first: the first is the agent's own. */
  async datacenters(): Promise<string[]> {
    const res = await this.call({ action: 'list datacenters', method: 'GET', path: '/catalog/datacenters' });
    return Array.isArray(res.body) ? (res.body as string[]) : [];
  }

  /**
   * Checks the configured ACL token is known to Consul. Resolves when it is, or when
   * there is no token or ACLs are disabled; rejects with a 403 error when it is unknown.
   */
  async verifyToken(options: CallOptions = {}): Promise<void> {
    if (!this.options.token) return;
    // 401: ACLs disabled, so any token is fine.
    await this.call({
      action: 'accept the ACL token',
      method: 'GET',
      path: '/acl/token/self',
      accept: [401],
      ...options,
    });
  }

  async registerService(definition: AgentServiceRegistration, options: CallOptions = {}): Promise<void> {
    await this.call({
      action: `register service "${definition.Name}" (id "${definition.ID}")`,
      method: 'PUT',
      path: '/agent/service/register',
      query: { 'replace-existing-checks': true },
      body: definition,
      ...options,
    });
  }

  async deregisterService(id: string, options: CallOptions = {}): Promise<void> {
    await this.call({
      action: `deregister service id "${id}"`,
      method: 'PUT',
      path: '/agent/service/deregister/{id}',
      params: { id },
      ...options,
    });
  }

  /** The agent's local registration of `id`, or `undefined` when the agent does not know it. */
  async agentService(id: string, options: CallOptions = {}): Promise<AgentService | undefined> {
    const res = await this.call({
      action: `read service id "${id}"`,
      method: 'GET',
      path: '/agent/service/{id}',
      params: { id },
      accept: [404],
      ...options,
    });
    return res.statusCode === 404 ? undefined : (res.body as AgentService);
  }

  async setServiceMaintenance(id: string, enable: boolean, reason?: string, options: CallOptions = {}): Promise<void> {
    await this.call({
      action: `${enable ? 'enable' : 'disable'} maintenance of service id "${id}"`,
      method: 'PUT',
      path: '/agent/service/maintenance/{id}',
      params: { id },
      query: reason ? { enable, reason } : { enable },
      ...options,
    });
  }

  /**
   * Reports a TTL check's status. Resolves `false` when the agent does not know the check
   * (it forgot the service), so the caller can re-register.
   */
  async updateTtlCheck(
    checkId: string,
    status: CheckStatus,
    output: string,
    options: CallOptions = {},
  ): Promise<boolean> {
    const res = await this.call({
      action: `update check "${checkId}"`,
      method: 'PUT',
      path: '/agent/check/update/{id}',
      params: { id: checkId },
      body: { Status: status, Output: output },
      // Consul 1.8 answers an unknown check with 500 "Unknown check"; newer ones with 404.
      accept: [404, 500],
      ...options,
    });
    if (res.statusCode === 404) return false;
    if (res.statusCode === 500) {
      const reason = bodyText(res.body);
      if (/unknown check|does not have associated ttl|not found/i.test(reason)) return false;
      throw new ConsulRequestError(`update check "${checkId}"`, this.address, 500, reason);
    }
    return true;
  }

  /** Nest calls this last on shutdown, after deregistration. */
  onApplicationShutdown(): void {
    this.close();
  }

  /** Closes pooled connections. */
  close(): void {
    this.reachability.close();
    this.consul.destroy();
    this.agent.destroy();
  }

  /** The body as a list, or a ConsulRequestError saying what came instead (a proxy's error page, a truncated answer…). */
  private expectList<T>(res: RawResponse, action: string): T[] {
    if (Array.isArray(res.body)) return res.body as T[];
    const text = typeof res.body === 'string' || Buffer.isBuffer(res.body);
    const what = text ? `a ${res.headers['content-type'] ?? 'untyped'} answer: ` : '';
    throw new ConsulRequestError(
      action,
      this.address,
      res.statusCode,
      `expected a JSON list, got ${what}${preview(res.body)}`,
    );
  }

  private async call(call: Call): Promise<RawResponse> {
    const headers: Record<string, string> = {};
    if (this.options.token) headers['x-consul-token'] = this.options.token;
    const cancellation = call.signal ? cancellationContext(call.signal) : undefined;
    const ctx = cancellation?.ctx;
    const outcome = (await this.consul
      ._request(
        {
          method: call.method,
          path: call.path,
          params: call.params,
          query: call.query,
          headers,
          ...(call.body === undefined
            ? {}
            : call.raw
              ? { type: 'text', body: String(call.body) }
              : { type: 'json', body: call.body }),
          timeout: call.timeoutMs ?? this.options.timeoutMs,
          ...(ctx ? { ctx } : {}),
        },
        settle,
      )
      // papi itself rejects only before sending (e.g. a request cancelled before it started).
      .catch((networkError: unknown) => ({ networkError }))
      .finally(() => cancellation?.dispose())) as RawResponse | { networkError: unknown };
    if ('networkError' in outcome) {
      const error = new ConsulRequestError(call.action, this.address, undefined, networkReason(outcome.networkError));
      // A request we cancelled (shutdown, a watch stopped) says nothing about the agent.
      if (!call.signal?.aborted && !call.quiet) this.reachability.unreachable(error);
      throw error;
    }
    const res = outcome;
    this.reachability.answered(this.address);
    if ((res.statusCode >= 200 && res.statusCode < 300) || call.accept?.includes(res.statusCode)) return res;
    throw new ConsulRequestError(call.action, this.address, res.statusCode, bodyText(res.body) || 'no reason given');
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const IDLE_SOCKET_MS = 10_000;

/**
 * X-Consul-Index as a blocking query needs it: a positive safe integer, else 0 (treated as no
 * index: the next read does not block). A garbled header must not stall or break the watch.
 */
function consulIndex(res: RawResponse): number {
  const header = res.headers['x-consul-index'];
  const text = Array.isArray(header) ? header[0] : header;
  if (!text || !/^\d{1,16}$/.test(text)) return 0;
  const index = Number(text);
  return Number.isSafeInteger(index) ? index : 0;
}

/** A short, safe rendering of an unexpected value for an error message. */
function preview(value: unknown): string {
  if (value === undefined || value === '' || (Buffer.isBuffer(value) && value.length === 0)) return 'an empty body';
  const text =
    typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/**
 * papi middleware: always resolves, with the HTTP answer (error statuses included) or with
 * `{ networkError }` when nothing answered. Never hands papi an Error to reject with: papi tells
 * errors apart with `instanceof Error`, which fails for Node's own errors under a VM realm (Jest).
 */
function settle(request: PapiRequest, next: (stop: false, value: unknown) => void): void {
  if (!request.res) return next(false, { networkError: request.err ?? 'no response' });
  next(false, { statusCode: request.res.statusCode, headers: request.res.headers, body: request.res.body });
}

/** KV keys keep their slashes in the URL; each segment is escaped on its own. */
function encodeKvPath(key: string): { encode: false; toString(): string } {
  const path = key.split('/').map(encodeURIComponent).join('/');
  return { encode: false, toString: () => path };
}

/**
 * papi cancels a request when its `ctx` emits "cancel". The listener on the caller's long-lived
 * signal must go when the request ends (`dispose`), or a watch loop would add one per request.
 */
function cancellationContext(signal: AbortSignal): { ctx: EventEmitter; dispose(): void } {
  const ctx = new EventEmitter();
  const cancel = () => {
    (ctx as EventEmitter & { canceled?: boolean }).canceled = true;
    ctx.emit('cancel');
  };
  if (signal.aborted) cancel();
  else signal.addEventListener('abort', cancel, { once: true });
  return { ctx, dispose: () => signal.removeEventListener('abort', cancel) };
}

function bodyText(body: unknown): string {
  const text = Buffer.isBuffer(body)
    ? body.toString('utf8')
    : typeof body === 'string'
      ? body
      : JSON.stringify(body ?? '');
  return text.trim().slice(0, 300);
}

function networkReason(error: unknown): string {
  const err = error as { code?: string; message?: string };
  const message = (err?.message ?? String(error)).replace(/^(consul: )+/, '');
  return err?.code && !message.includes(err.code) ? `${message} (${err.code})` : message;
}
