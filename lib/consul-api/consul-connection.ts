import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Consul from 'consul';
import { ConsulKitError } from '../common/consul-kit.error.js';
import type { ResolvedConnectionOptions } from '../options/connection.options.js';
import { AgentReachability } from './agent-reachability.js';
import { ConsulRequestError } from './consul-request.error.js';
import {
  bodyText,
  callDirect,
  callPackage,
  isUriError,
  isValidationError,
  networkReason,
  preview,
  type CallOptions,
  type ConsulCalls,
  type Outcome,
  type RawResponse,
} from './consul-transport.js';

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

export interface Call extends RequestOptions {
  /** Said in errors: "could not <action>". */
  action: string;
  /** Statuses that are answers, not errors (e.g. 404 when asking whether a service exists). */
  accept?: readonly number[];
}

export interface DirectCall extends Call {
  method: 'GET' | 'PUT' | 'POST';
  /** Under `/v1`, already escaped. */
  path: string;
  query?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
}

/**
 * The one connection to the agent that every endpoint group of `ConsulApi` shares: the `consul`
 * package's client, the HTTP agent its calls and ours (see {@link direct}) share, the token,
 * the timeouts, the agent's reachability, and how an answer becomes a body or a
 * {@link ConsulRequestError} that names the agent and never carries the token.
 */
export class ConsulConnection {
  readonly consul: ConsulCalls;
  /** The package's connections, which the direct calls share (closed by the package's destroy()). */
  private readonly agent: HttpAgent;
  /**
   * One line when the agent stops answering, one when it is back, for the whole app; while it is
   * away, `probe` (a leader read) every second tells sleeping loops the moment it answers again.
   */
  readonly reachability: AgentReachability;

  constructor(
    readonly options: ResolvedConnectionOptions,
    probe: () => Promise<unknown>,
  ) {
    this.reachability = new AgentReachability({ probe });
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

  /** Closes pooled connections. */
  close(): void {
    this.reachability.close();
    // Requests still running (the direct ones too, on the same agent) fail now: they do not hold the app.
    this.consul.destroy();
  }

  /** The body as a list, or a ConsulRequestError saying what came instead (a proxy's error page, a truncated answer…). */
  expectList<T>(res: RawResponse, action: string): T[] {
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
  call(call: Call, send: (options: CallOptions) => Promise<unknown>): Promise<RawResponse> {
    // Not async: an awaiting frame here would be held through every blocking read, one per watch.
    // callPackage never throws (it settles as an Outcome); settle's throw rejects the promise.
    return callPackage(send, { timeoutMs: call.timeoutMs ?? this.options.timeoutMs, signal: call.signal }).then(
      (outcome) => this.settle(call, outcome),
    );
  }

  /** A call of our own, for what the package cannot ask (each caller says why). */
  direct(call: DirectCall): Promise<RawResponse> {
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
      // A name nobody can put in a URL, not an agent that cannot be reached: no retry will help.
      if (isUriError(outcome.failure)) {
        throw new ConsulKitError(
          `Could not ${call.action}: it holds a lone UTF-16 surrogate, which no URL can carry: fix the name`,
        );
      }
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

const IDLE_SOCKET_MS = 10_000;

/** Consul adds up to wait/16 of jitter; the timeout must outlast that, or every quiet watch errors. */
export function blockingTimeout(waitMs: number, timeoutMs: number): number {
  return waitMs + waitMs / 16 + timeoutMs;
}

export function waitParam(waitMs: number): string {
  return `${Math.ceil(waitMs / 1000)}s`;
}

/** A string literal for a Consul filter, if one can spell `value`: Consul 1.8's parser knows no escapes. */
export function filterLiteral(value: string): string | undefined {
  if (!value.includes('`')) return `\`${value}\``;
  return /["\\]/.test(value) ? undefined : `"${value}"`;
}

/** `value` escaped for a URL path, or an error naming `what` (a lone UTF-16 surrogate fits in no URL). */
export function urlSegment(value: string, what: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    throw new ConsulKitError(`The ${what} holds a lone UTF-16 surrogate, which no URL can carry: fix the name`);
  }
}
