import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Consul from 'consul';
import { ConsulKitError } from '../common/consul-kit.error.js';
import type { ResolvedConnectionOptions } from '../options/connection.options.js';
import type {
  AgentService,
  AgentServiceRegistration,
  CheckStatus,
  HealthServiceEntry,
  KvEntry,
  KvPair,
  SessionDefinition,
  SessionInfo,
} from './consul-api.types.js';
import { AgentReachability } from './agent-reachability.js';
import { ConsulRequestError } from './consul-request.error.js';
import {
  bodyText,
  callDirect,
  callPackage,
  consulIndex,
  isValidationError,
  networkReason,
  preview,
  type CallOptions,
  type ConsulCalls,
  type Outcome,
  type RawResponse,
} from './consul-transport.js';

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
  /**
   * Read through the agent's cache (`?cached`): the agent answers from one background blocking
   * query it shares with every caller on the node. Always a stale read (`stale` is then moot).
   */
  cached?: boolean;
}

/** Per-call options of the registrar's calls (the shutdown deadline, cancellation, failFast). */
export interface RequestOptions {
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

interface Call extends RequestOptions {
  /** Said in errors: "could not <action>". */
  action: string;
  /** Statuses that are answers, not errors (e.g. 404 when asking whether a service exists). */
  accept?: readonly number[];
}

interface DirectCall extends Call {
  method: 'GET' | 'PUT';
  /** Under `/v1`, already escaped. */
  path: string;
  query?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
}

/**
 * The only code that talks to Consul. It goes through the public API of the `consul` package,
 * except for the calls the package cannot make as Consul needs them, which go through Node's HTTP client
 * with the same TLS, keep-alive, timeouts and cancellation (see {@link direct}). Everything above
 * this class sees typed shapes and {@link ConsulRequestError}s that name the agent and never carry
 * the token.
 */
export class ConsulApi {
  private readonly consul: ConsulCalls;
  /** The package's connections, which the direct calls share (closed by the package's destroy()). */
  private readonly agent: HttpAgent;
  /**
   * One line when the agent stops answering, one when it is back, for the whole app; while it is
   * away, a leader probe every second tells sleeping loops the moment it answers again.
   */
  readonly reachability = new AgentReachability({ probe: () => this.leader(1_000) });

  constructor(private readonly options: ResolvedConnectionOptions) {
    const { host, port, secure, ca, cert, key, token } = options;
    // Keep-alive, but an idle connection closes after IDLE_SOCKET_MS: a burst (every loop retrying
    // at once when the agent is back) must not leave its extra connections open for good. Active
    // requests are not affected: each has its own timeout.
    const agentOptions = { keepAlive: true, timeout: IDLE_SOCKET_MS };
    this.agent = secure ? new HttpsAgent({ ...agentOptions, ca, cert, key }) : new HttpAgent(agentOptions);
    this.consul = new Consul({
      host,
      port,
      secure,
      agent: this.agent,
      // The token goes with every call of the package; the direct calls add it themselves.
      ...(token ? { defaults: { token } } : {}),
    });
  }

  /** `http(s)://host:port` of the agent, for messages. */
  get address(): string {
    return this.options.address;
  }

  /** The leader's address, or `''` when the cluster has none. */
  async leader(timeoutMs?: number, options: RequestOptions = {}): Promise<string> {
    const res = await this.call({ action: 'report its leader', timeoutMs, ...options }, (o) =>
      this.consul.status.leader(o),
    );
    return typeof res.body === 'string' ? res.body : '';
  }

  /**
   * One (possibly blocking) read of a service's instances with their checks. With `index` > 0
   * Consul holds the answer until something changes or `waitMs` passes; with 0 it answers at once.
   */
  healthService(
    query: HealthQuery,
    { index, waitMs, signal }: { index: number; waitMs: number; signal?: AbortSignal },
  ): Promise<{ entries: HealthServiceEntry[]; index: number }> {
    // Not async: every watched service holds one of these reads for up to `waitMs`, and an
    // awaiting frame would be held with it. So what can throw must reject, as it did when async.
    let path: string;
    try {
      path = `/health/service/${urlSegment(query.service, `service name "${query.service}"`)}`;
    } catch (error) {
      return Promise.reject(error);
    }
    const action = `list instances of service "${query.service}"${query.dc ? ` in ${query.dc}` : ''}`;
    // One `tag` parameter; further tags become filter clauses (every tag must match).
    const [tag, ...moreTags] = query.tags ?? [];
    const clauses = moreTags.map((more) => `${filterLiteral(more) ?? JSON.stringify(more)} in Service.Tags`);
    if (query.filter) clauses.push(`(${query.filter})`);
    const blocking = index > 0;
    const params: Record<string, string> = {};
    // The agent's own background query is always a stale read, and Consul refuses `cached` with `consistent`.
    if (query.cached) params.cached = '';
    else if (query.stale) params.stale = '';
    if (query.dc) params.dc = query.dc;
    if (tag !== undefined) params.tag = tag;
    if (clauses.length) params.filter = clauses.join(' and ');
    if (query.near) params.near = query.near;
    if (query.passingOnly) params.passing = 'true';
    if (blocking) {
      params.index = String(index);
      params.wait = waitParam(waitMs);
    }
    // Direct, not the package's health.service: it cannot pass `cached`, and each of its calls
    // holds more per request (a context emitter, a suspended frame, its promise chain), and a
    // watch holds one request for minutes, per watched service.
    const answer = this.direct({
      action,
      method: 'GET',
      path,
      query: params,
      timeoutMs: blocking ? blockingTimeout(waitMs, this.options.timeoutMs) : undefined,
      signal,
    });
    // Odd entries are the mapper's to skip (with one log line); a body that is no list at all is
    // not "no instances": it is an error, so the watch keeps the last known answer.
    return answer.then((res) => ({
      entries: this.expectList<HealthServiceEntry>(res, action),
      index: consulIndex(res),
    }));
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
    // Direct: the package's kv.get decodes the values in place (so a value that is not base64
    // passes unseen) and throws outside any promise on a list holding a null.
    const res = await this.direct({
      action,
      method: 'GET',
      path: `/kv/${encodeKvPath(prefix)}`,
      query: {
        recurse: 'true',
        ...(index > 0 ? { index: String(index), wait: waitParam(waitMs) } : {}),
        ...(stale ? { stale: '' } : {}),
      },
      accept: [404],
      timeoutMs: index > 0 ? blockingTimeout(waitMs, this.options.timeoutMs) : undefined,
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
        ...(typeof entry.Session === 'string' && entry.Session ? { Session: entry.Session } : {}),
      })),
      index: consulIndex(res),
    };
  }

  /** Writes `value` at `key`; with `cas`, only if the key's ModifyIndex is still `cas` (0: only if absent). */
  async kvPut(key: string, value: string, cas?: number): Promise<boolean> {
    const res = await this.call({ action: `write the KV key "${key}"` }, (o) =>
      this.consul.kv.set({ ...o, key, value, ...(cas === undefined ? {} : { cas }) }),
    );
    return res.body === true || bodyText(res.body) === 'true';
  }

  async kvDelete(key: string): Promise<void> {
    await this.call({ action: `delete the KV key "${key}"` }, (o) => this.consul.kv.del({ ...o, key }));
  }

  /**
   * One key with its lock state, or `undefined` when it does not exist. With `index` > 0 a
   * blocking read: Consul answers when the key changes or `waitMs` passes.
   */
  async kvGet(
    key: string,
    { index = 0, waitMs = 0, signal }: { index?: number; waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<{ pair: KvPair | undefined; index: number }> {
    const action = `read the KV key "${key}"`;
    const res = await this.call(
      {
        action,
        accept: [404],
        timeoutMs: index > 0 ? blockingTimeout(waitMs, this.options.timeoutMs) : undefined,
        signal,
      },
      (o) => this.consul.kv.get({ ...o, key, ...(index > 0 ? { index: String(index), wait: waitParam(waitMs) } : {}) }),
    );
    if (res.statusCode === 404) return { pair: undefined, index: consulIndex(res) };
    // The package decoded the Value of the list's one entry in place.
    const entry = (this.expectList<Record<string, unknown>>(res, action)[0] ?? {}) as Record<string, unknown>;
    if (typeof entry.Key !== 'string' || (entry.Value != null && typeof entry.Value !== 'string')) {
      throw new ConsulRequestError(action, this.address, res.statusCode, `unexpected KV entry ${preview(entry)}`);
    }
    return {
      pair: {
        Key: entry.Key,
        Value: (entry.Value as string | null | undefined) ?? null,
        ModifyIndex: Number(entry.ModifyIndex) || 0,
        LockIndex: Number(entry.LockIndex) || 0,
        ...(typeof entry.Session === 'string' && entry.Session ? { Session: entry.Session } : {}),
      },
      index: consulIndex(res),
    };
  }

  /**
   * `PUT /kv/:key?acquire=<session>`: true when `session` now holds `key` (or already did), false
   * when another session holds it or the key is in its lock-delay. Rejects with
   * {@link ConsulRequestError} 500 "invalid session" when the session is gone.
   */
  async kvAcquire(key: string, value: string, session: string): Promise<boolean> {
    const res = await this.call({ action: `acquire the KV key "${key}"` }, (o) =>
      this.consul.kv.set({ ...o, key, value, acquire: session }),
    );
    return res.body === true || bodyText(res.body) === 'true';
  }

  /** `PUT /kv/:key?release=<session>`: true when the key was held by `session` and is now free. */
  async kvRelease(key: string, value: string, session: string): Promise<boolean> {
    const res = await this.call({ action: `release the KV key "${key}"` }, (o) =>
      this.consul.kv.set({ ...o, key, value, release: session }),
    );
    return res.body === true || bodyText(res.body) === 'true';
  }

  /** Creates a session on the agent's node; resolves its id. */
  async createSession(definition: SessionDefinition): Promise<string> {
    const action = `create session "${definition.Name}"`;
    const res = await this.call({ action }, (o) =>
      this.consul.session.create({
        ...o,
        name: definition.Name,
        ttl: definition.TTL,
        lockdelay: definition.LockDelay,
        behavior: definition.Behavior,
        checks: definition.Checks,
      }),
    );
    const id = (res.body as { ID?: unknown } | undefined)?.ID;
    if (typeof id !== 'string' || !id) {
      throw new ConsulRequestError(
        action,
        this.address,
        res.statusCode,
        `expected a session ID, got ${preview(res.body)}`,
      );
    }
    return id;
  }

  /**
   * Renews a TTL session. Resolves false when Consul no longer knows it (expired, invalidated by a
   * check, destroyed): its locks are gone. `timeoutMs`: the renewal must not outlive the lease.
   */
  async renewSession(id: string, timeoutMs?: number): Promise<boolean> {
    const res = await this.call({ action: `renew session "${id}"`, accept: [404], timeoutMs }, (o) =>
      this.consul.session.renew({ ...o, id }),
    );
    return res.statusCode !== 404;
  }

  /** Destroys a session: Consul releases (or deletes, per its Behavior) every key it holds. */
  async destroySession(id: string, timeoutMs?: number): Promise<void> {
    await this.call({ action: `destroy session "${id}"`, timeoutMs }, (o) => this.consul.session.destroy({ ...o, id }));
  }

  /** Every session of the datacenter. */
  async listSessions(): Promise<SessionInfo[]> {
    const action = 'list sessions';
    const res = await this.call({ action }, (o) => this.consul.session.list(o));
    return this.expectList<SessionInfo>(res, action);
  }

  /** Known datacenters, nearest first: the first is the agent's own. */
  async datacenters(): Promise<string[]> {
    const res = await this.call({ action: 'list datacenters' }, (o) => this.consul.catalog.datacenters(o));
    return Array.isArray(res.body) ? (res.body as string[]) : [];
  }

  /**
   * Checks the configured ACL token is known to Consul. Resolves when it is, or when
   * there is no token or ACLs are disabled; rejects with a 403 error when it is unknown.
   */
  async verifyToken(options: RequestOptions = {}): Promise<void> {
    if (!this.options.token) return;
    // Direct: the package has no call for /acl/token/self (only bootstrap, replication, legacy).
    // 401: ACLs disabled, so any token is fine.
    await this.direct({
      action: 'accept the ACL token',
      method: 'GET',
      path: '/acl/token/self',
      accept: [401],
      ...options,
    });
  }

  async registerService(definition: AgentServiceRegistration, options: RequestOptions = {}): Promise<void> {
    // Direct: the package's agent.service.register rebuilds the definition without
    // EnableTagOverride and Weights, and cannot ask to replace the existing checks.
    await this.direct({
      action: `register service "${definition.Name}" (id "${definition.ID}")`,
      method: 'PUT',
      path: '/agent/service/register',
      query: { 'replace-existing-checks': 'true' },
      json: definition,
      ...options,
    });
  }

  async deregisterService(id: string, options: RequestOptions = {}): Promise<void> {
    await this.call({ action: `deregister service id "${id}"`, ...options }, (o) =>
      this.consul.agent.service.deregister({ ...o, id }),
    );
  }

  /** The agent's local registration of `id`, or `undefined` when the agent does not know it. */
  async agentService(id: string, options: RequestOptions = {}): Promise<AgentService | undefined> {
    const action = `read service id "${id}"`;
    // The package has no call for /agent/service/:id; the agent's list, filtered to that id, says
    // the same (an id no filter can spell gets the whole list, looked up the same way).
    const literal = filterLiteral(id);
    const res = await this.call({ action, ...options }, (o) =>
      this.consul.agent.service.list({ ...o, ...(literal ? { filter: `ID == ${literal}` } : {}) }),
    );
    const services = res.body;
    if (typeof services !== 'object' || services === null || Array.isArray(services) || Buffer.isBuffer(services)) {
      throw new ConsulRequestError(
        action,
        this.address,
        res.statusCode,
        `expected a JSON object, got ${preview(services)}`,
      );
    }
    return (services as Record<string, AgentService | undefined>)[id];
  }

  async setServiceMaintenance(
    id: string,
    enable: boolean,
    reason?: string,
    options: RequestOptions = {},
  ): Promise<void> {
    await this.call({ action: `${enable ? 'enable' : 'disable'} maintenance of service id "${id}"`, ...options }, (o) =>
      this.consul.agent.service.maintenance({ ...o, id, enable, ...(reason ? { reason } : {}) }),
    );
  }

  /**
   * Reports a TTL check's status. Resolves `false` when the agent does not know the check
   * (it forgot the service), so the caller can re-register.
   */
  async updateTtlCheck(
    checkId: string,
    status: CheckStatus,
    output: string,
    options: RequestOptions = {},
  ): Promise<boolean> {
    const action = `update check "${checkId}"`;
    // pass/warn/fail with a note: the same update as /agent/check/update with an Output, and the
    // same answers when the agent does not know the check.
    const res = await this.call(
      // Consul 1.8 answers an unknown check with 500 "Unknown check"; newer ones with 404.
      { action, accept: [404, 500], ...options },
      (o) => this.consul.agent.check[TTL_CALL[status]]({ ...o, id: checkId, note: output }),
    );
    if (res.statusCode === 404) return false;
    if (res.statusCode === 500) {
      const reason = bodyText(res.body);
      if (/unknown check|does not have associated ttl|not found/i.test(reason)) return false;
      throw new ConsulRequestError(action, this.address, 500, reason);
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
    // Requests still running (the direct ones too, on the same agent) fail now: they do not hold the app.
    this.consul.destroy();
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

  /** A call through the `consul` package. */
  private call(call: Call, send: (options: CallOptions) => Promise<unknown>): Promise<RawResponse> {
    // Not async: an awaiting frame here would be held through every blocking read, one per watch.
    // callPackage never throws (it settles as an Outcome); settle's throw rejects the promise.
    return callPackage(send, { timeoutMs: call.timeoutMs ?? this.options.timeoutMs, signal: call.signal }).then(
      (outcome) => this.settle(call, outcome),
    );
  }

  /** A call of our own, for what the package cannot ask (each caller says why). */
  private direct(call: DirectCall): Promise<RawResponse> {
    // Not async, like call(): every watch holds one of these for its whole blocking read.
    const headers: Record<string, string> = {};
    if (this.options.token) headers['x-consul-token'] = this.options.token;
    if (call.json !== undefined) headers['content-type'] = 'application/json';
    const query = call.query ? `?${new URLSearchParams(call.query)}` : '';
    return callDirect(
      this.agent,
      `${this.address}/v1${call.path}${query}`,
      {
        method: call.method,
        headers,
        body: call.json === undefined ? undefined : JSON.stringify(call.json),
        timeoutMs: call.timeoutMs ?? this.options.timeoutMs,
        signal: call.signal,
      },
      (outcome) => this.settle(call, outcome),
    );
  }

  /** An answer with an accepted status, else a ConsulRequestError; tells reachability which it was. */
  private settle(call: Call, outcome: Outcome): RawResponse {
    if ('failure' in outcome) {
      const error = new ConsulRequestError(call.action, this.address, undefined, networkReason(outcome.failure));
      // A request we cancelled (shutdown, a watch stopped) or refused to send says nothing about the agent.
      // A caller that reports its own failure (quiet) keeps it out of the app-wide warning.
      if (!call.signal?.aborted && !call.quiet && !isValidationError(outcome.failure)) {
        this.reachability.unreachable(error);
      }
      throw error;
    }
    const { res } = outcome;
    this.reachability.answered(this.address);
    if ((res.statusCode >= 200 && res.statusCode < 300) || call.accept?.includes(res.statusCode)) return res;
    throw new ConsulRequestError(call.action, this.address, res.statusCode, bodyText(res.body) || 'no reason given');
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const IDLE_SOCKET_MS = 10_000;
const TTL_CALL = { passing: 'pass', warning: 'warn', critical: 'fail' } as const;

/** Consul adds up to wait/16 of jitter; the timeout must outlast that, or every quiet watch errors. */
function blockingTimeout(waitMs: number, timeoutMs: number): number {
  return waitMs + waitMs / 16 + timeoutMs;
}

function waitParam(waitMs: number): string {
  return `${Math.ceil(waitMs / 1000)}s`;
}

/** A string literal for a Consul filter, if one can spell `value`: Consul 1.8's parser knows no escapes. */
function filterLiteral(value: string): string | undefined {
  if (!value.includes('`')) return `\`${value}\``;
  return /["\\]/.test(value) ? undefined : `"${value}"`;
}

/** KV keys keep their slashes in the URL; each segment is escaped on its own. */
function encodeKvPath(key: string): string {
  return key
    .split('/')
    .map((segment) => urlSegment(segment, `KV key "${key}"`))
    .join('/');
}

/** `value` escaped for a URL path, or an error naming `what` (a lone UTF-16 surrogate fits in no URL). */
function urlSegment(value: string, what: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    throw new ConsulKitError(`The ${what} holds a lone UTF-16 surrogate, which no URL can carry: fix the name`);
  }
}
