import { EventEmitter } from 'node:events';
import { type Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** One answer from the agent, whatever its status. */
export interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** Decoded as the `consul` package decodes it: JSON, text, or the bytes; `undefined` when empty. */
  body: unknown;
}

/** An answer, or the reason none came (refused, reset, timed out, cancelled). */
export type Outcome = { res: RawResponse } | { failure: unknown };

/** What every call passes to the `consul` package (its README's "options [that] work for all methods"). */
export interface CallOptions {
  ctx: CallContext;
  timeout: number;
  /** The package's one typed common option; the client sends it by default (`defaults.token`). */
  token?: string;
}

/**
 * The part of the `consul` package's public API this adapter uses, with the options it passes.
 * The package's own typings omit `ctx` and `timeout`, which its README documents for every call;
 * `new Consul()` is checked against this interface, so a call the package lacks does not compile.
 */
export interface ConsulCalls {
  status: { leader(options: CallOptions): Promise<unknown> };
  catalog: { datacenters(options: CallOptions): Promise<unknown> };
  kv: {
    /** One key (not `recurse`): the package decodes its Value from base64 in place. */
    get(options: CallOptions & { key: string; index?: string; wait?: string }): Promise<unknown>;
    set(
      options: CallOptions & { key: string; value: string; cas?: number; acquire?: string; release?: string },
    ): Promise<unknown>;
    del(options: CallOptions & { key: string }): Promise<unknown>;
  };
  session: {
    create(
      options: CallOptions & {
        name?: string;
        ttl?: string;
        lockdelay?: string;
        behavior?: 'release' | 'delete';
        checks?: string[];
      },
    ): Promise<unknown>;
    renew(options: CallOptions & { id: string }): Promise<unknown>;
    destroy(options: CallOptions & { id: string }): Promise<unknown>;
    info(options: CallOptions & { id: string }): Promise<unknown>;
    list(options: CallOptions): Promise<unknown>;
  };
  agent: {
    service: {
      list(options: CallOptions & { filter?: string }): Promise<unknown>;
      deregister(options: CallOptions & { id: string }): Promise<unknown>;
      maintenance(options: CallOptions & { id: string; enable: boolean; reason?: string }): Promise<unknown>;
    };
    check: {
      pass(options: CallOptions & { id: string; note: string }): Promise<unknown>;
      warn(options: CallOptions & { id: string; note: string }): Promise<unknown>;
      fail(options: CallOptions & { id: string; note: string }): Promise<unknown>;
    };
  };
  /** Destroys the client's HTTP agent. */
  destroy(): void;
}

/**
 * The package's per-call `ctx`. papi (its HTTP layer) aborts the request when it emits "cancel"
 * and refuses to start one already `canceled`; with `includeResponse` the package resolves
 * `[response, body]` and attaches `response` to HTTP errors (how its own Watch reads X-Consul-Index).
 */
export class CallContext extends EventEmitter {
  readonly includeResponse = true;
  canceled = false;
}

/** One call through the `consul` package, settled as an answer (any status) or a failure. */
export async function callPackage(
  send: (options: CallOptions) => Promise<unknown>,
  { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal },
): Promise<Outcome> {
  const ctx = new CallContext();
  const unlink = onAbort(signal, () => {
    ctx.canceled = true;
    ctx.emit('cancel');
  });
  try {
    const result = await send({ ctx, timeout: timeoutMs });
    // Success is `[response, body?]`. Anything else is a network error papi resolved instead of
    // rejecting: it tells errors apart with `instanceof Error`, which fails for Node's own errors
    // when the package runs in another realm (Jest's VM). So no `instanceof` here either.
    const res = Array.isArray(result) ? responseOf(result[0]) : undefined;
    return res ? { res } : { failure: result };
  } catch (failure) {
    // An error status (papi's ResponseError) or an undecodable body (CodecError) is still an
    // answer; both carry the response. Timeouts and resets carry no such flag.
    const answered = hasFlag(failure, 'isResponse') || hasFlag(failure, 'isCodec');
    const res = answered ? responseOf((failure as { response?: unknown }).response) : undefined;
    return res ? { res } : { failure };
  } finally {
    unlink();
  }
}

/**
 * One HTTP call with Node's own client, on the connections of the package's agent, for the
 * endpoints the package cannot call as Consul needs (see ConsulApi). Same timeout, cancellation
 * and body decoding as a package call; the outcome goes through `conclude`. Node's client
 * rather than undici: the package already warms it, and undici's first request (loading its
 * code, compiling its parser) is a start-up cost out of proportion to a handful of calls.
 */
export function callDirect<R>(
  agent: HttpAgent,
  url: string,
  init: {
    method: 'GET' | 'PUT' | 'POST';
    headers: Record<string, string>;
    body?: string;
    timeoutMs: number;
    signal?: AbortSignal;
  },
  /**
   * Turns the outcome into the result (or throws, to reject). Passed in rather than chained with
   * `then()`: a watch holds this promise for its whole blocking read, and one link less is one
   * promise, reaction and closure less per watched service.
   */
  conclude: (outcome: Outcome) => R,
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unlink();
      try {
        resolve(conclude(outcome));
      } catch (error) {
        reject(error);
      }
    };
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { method: init.method, headers: init.headers, agent }, (res) =>
      readBody(res).then(
        (bytes) =>
          settle({
            res: {
              statusCode: res.statusCode ?? 0,
              headers: res.headers,
              body: decode(bytes, res.headers['content-type']),
            },
          }),
        (failure: unknown) => settle({ failure }),
      ),
    );
    req.on('error', (failure) => settle({ failure }));
    const timer = setTimeout(() => req.destroy(new Error(`request timed out (${init.timeoutMs}ms)`)), init.timeoutMs);
    const unlink = onAbort(init.signal, () => req.destroy(new Error('request aborted')));
    req.end(init.body);
  });
}

/** The whole body; fails when the connection ends before it does. */
async function readBody(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  if (!res.complete) throw new Error('the connection closed before the whole answer came');
  return Buffer.concat(chunks);
}

/** Whether `failure` was refused before anything was sent (a validation error of the package or papi). */
export function isValidationError(failure: unknown): boolean {
  return hasFlag(failure, 'isValidation');
}

/**
 * Whether `failure` is the URIError the package's HTTP layer (papi) throws before sending, when an
 * id or key in the path holds a lone UTF-16 surrogate. By name: Jest's VM runs the package in another realm.
 */
export function isUriError(failure: unknown): boolean {
  return typeof failure === 'object' && failure !== null && (failure as { name?: unknown }).name === 'URIError';
}

/**
 * X-Consul-Index as a blocking query needs it: a positive safe integer, else 0 (treated as no
 * index: the next read does not block). A garbled header must not stall or break the watch.
 */
export function consulIndex(res: RawResponse): number {
  const header = res.headers['x-consul-index'];
  const text = Array.isArray(header) ? header[0] : header;
  if (!text || !/^\d{1,16}$/.test(text)) return 0;
  const index = Number(text);
  return Number.isSafeInteger(index) ? index : 0;
}

/** A short, safe rendering of an unexpected value for an error message. */
export function preview(value: unknown): string {
  if (value === undefined || value === '' || (Buffer.isBuffer(value) && value.length === 0)) return 'an empty body';
  const text =
    typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

export function bodyText(body: unknown): string {
  // An empty body is decoded as undefined: no text (not `""`), so callers can say "no reason given".
  const text = Buffer.isBuffer(body)
    ? body.toString('utf8')
    : typeof body === 'string'
      ? body
      : body === undefined || body === null
        ? ''
        : JSON.stringify(body);
  return text.trim().slice(0, 300);
}

export function networkReason(error: unknown): string {
  const err = error as { code?: string; message?: string } | undefined;
  // The package prefixes its errors with the client's and the call's names ("consul: kv.get: ").
  const message = (err?.message ?? String(error)).replace(/^(consul: )+([a-z]+(\.[a-z]+)+: )?/i, '');
  return err?.code && !message.includes(err.code) ? `${message} (${err.code})` : message;
}

/** Calls `listener` when `signal` aborts; the returned function removes it (a loop must not add one per request). */
function onAbort(signal: AbortSignal | undefined, listener: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    listener();
    return () => undefined;
  }
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

function hasFlag(value: unknown, flag: string): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[flag] === true;
}

/** papi's response (Node's IncomingMessage with the decoded `body` papi adds), as a RawResponse. */
function responseOf(value: unknown): RawResponse | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { statusCode, headers, body } = value as Partial<RawResponse>;
  if (typeof statusCode !== 'number' || typeof headers !== 'object' || headers === null) return undefined;
  return { statusCode, headers, body };
}

/** As papi decodes: JSON (the bytes when it does not parse), text, else the bytes. */
function decode(bytes: Buffer, contentType: string | string[] | undefined): unknown {
  if (bytes.length === 0) return undefined;
  const mime = String(Array.isArray(contentType) ? contentType[0] : (contentType ?? ''))
    .split(';')[0]
    .trim();
  if (mime === 'application/json' || mime === 'text/json') {
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch {
      return bytes;
    }
  }
  return mime === 'text/plain' || mime === 'text/html' ? bytes.toString('utf8') : bytes;
}
