import { Logger } from '@nestjs/common';
import { Agent, type Dispatcher, request as undiciRequest } from 'undici';
import { acquireLease, type Lease, type LoadBalancer } from '../../balancing/load-balancer.js';
import type { ConsulDiscoveryService } from '../../discovery/consul-discovery.service.js';
import { instanceTarget, type ServiceInstance } from '../../common/service-instance.js';
import { UpstreamHttpResponseError, UpstreamHttpTransportError } from './upstream-http.errors.js';
import { OutlierEjector } from './outlier-ejector.js';
import { FollowedInstances } from '../followed-instances.js';
import type { Span } from '@opentelemetry/api';
import type { ConsulHttpFeatureOptions } from '../consul-client.options.js';
import { HttpClientInstruments, transportOutcome } from '../../observability/http-client.instruments.js';
import type { ConsulMetrics } from '../../observability/consul-metrics.js';
import type { ConnectCertificates } from '../../connect/connect-certificates.js';
import type { DiscoveryQuery } from '../../discovery/discovery-query.js';
import { LOG_CONTEXT } from '../../consul.constants.js';
import { ConsulConnectError } from '../../connect/connect.errors.js';
import { ConnectConnector, wrongIdentityOf } from './connect-connector.js';

/**
 * The client's options once resolved from {@link ConsulHttpFeatureOptions}: the same keys, with
 * durations in ms. Internal: users write the feature options.
 */
export interface ConsulHttpClientOptions extends Omit<ConsulHttpFeatureOptions, 'timeout' | 'outlier'> {
  /**
   * How long each wait of a request may last, in ms: connecting, the response headers, and each
   * pause in the body. Undici's own per-connection timers enforce it, which cost nothing per
   * request (a total deadline per request needs its own timer and abort signal: pass `signal` for
   * one). Default 5000.
   */
  timeoutMs?: number;
  /** Skip an instance after this many transport failures in a row, for `cooldownMs`. Default 3 and 10000. */
  outlier?: { consecutiveFailures?: number; cooldownMs?: number };
}

export interface ConsulHttpRequest {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  /** Overrides the client's timeout for this request's headers and body (ms); connecting keeps the client's. */
  timeoutMs?: number;
  /**
   * Cancels the request and its retries: it rejects with the signal's reason, and the instance is
   * not counted as failing. For a deadline on the whole request (the timeout bounds each wait),
   * pass `AbortSignal.timeout(ms)`; to stop with a lock, its `signal`.
   */
  signal?: AbortSignal;
}

/**
 * What a client uses for an option left out. The one copy: `forFeature()` validation checks only
 * what was given, and the client applies these whether it came from there or was built by hand.
 */
export const HTTP_CLIENT_DEFAULTS = {
  scheme: 'http',
  timeoutMs: 5_000,
  retries: 1,
  outlier: { consecutiveFailures: 3, cooldownMs: 10_000 },
} as const;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/**
 * HTTP to a service discovered in Consul: a fresh instance choice per request, keep-alive
 * connections per instance in this client's own pool (closed with the client; TLS and client
 * certificates per client), retries of idempotent requests on another instance, a timeout on
 * each wait (connecting, headers, each pause in the body), and passive outlier ejection. Once
 * the instances are known, a request picks one without awaiting anything.
 */
export class ConsulHttpClient {
  private readonly ejector: OutlierEjector;
  private readonly pool: Agent;
  private readonly instances: FollowedInstances;
  private readonly scheme: 'http' | 'https';
  private readonly timeoutMs: number;
  private readonly instruments: HttpClientInstruments;
  private readonly untrack: () => void;
  private readonly query: DiscoveryQuery | undefined;
  /** With `connect`: how connections are opened over Connect native mTLS. */
  private readonly connector?: ConnectConnector;
  /** Instances already reported for presenting another identity: one warning each. */
  private impostors?: Set<string>;

  /**
   * Built by `ConsulModule.forFeature()`; inject it with `@ConsulService(name)`.
   *
   * @internal
   */
  constructor(
    readonly service: string,
    private readonly discovery: ConsulDiscoveryService,
    private readonly balancer: LoadBalancer,
    private readonly options: ConsulHttpClientOptions,
    /** The app's: requests, retries and ejections are reported there, and the client in its status snapshot. */
    metrics: ConsulMetrics,
    /** With `options.connect`: the app's own leaf and the mesh's roots, its identity as a caller. */
    identity?: ConnectCertificates,
  ) {
    const { outlier } = HTTP_CLIENT_DEFAULTS;
    this.ejector = new OutlierEjector(
      options.outlier?.consecutiveFailures ?? outlier.consecutiveFailures,
      options.outlier?.cooldownMs ?? outlier.cooldownMs,
    );
    const { tls, connections } = options;
    this.timeoutMs = options.timeoutMs ?? HTTP_CLIENT_DEFAULTS.timeoutMs;
    if (options.connect) {
      if (!identity)
        throw new ConsulConnectError(`The HTTP client of "${service}" has connect on but no Connect identity`, service);
      this.connector = new ConnectConnector(service, identity, this.timeoutMs);
    }
    // With Connect, undici calls the connector per new connection, never per request.
    this.pool = new Agent({ connections, connect: this.connector?.connect ?? { ...tls, timeout: this.timeoutMs } });
    this.query = options.connect ? { ...options.query, connect: true } : options.query;
    this.instances = new FollowedInstances(discovery, service, this.query);
    this.scheme = options.connect ? 'https' : (options.scheme ?? HTTP_CLIENT_DEFAULTS.scheme);
    this.instruments = new HttpClientInstruments(service, metrics);
    this.untrack = this.instruments.track({ service, status: () => this.status() });
  }

  /**
   * For `ConsulStatusService.snapshot()`: the balancer and the instances ejected now.
   *
   * @internal
   */
  status(): { transport: string; balancer: string; ejected: string[] } {
    return { transport: 'http', balancer: this.balancer.constructor.name, ejected: this.ejector.ejected() };
  }

  get<T = unknown>(path: string, request?: ConsulHttpRequest): Promise<T> {
    return this.request<T>('GET', path, request);
  }

  post<T = unknown>(path: string, body?: unknown, request?: ConsulHttpRequest): Promise<T> {
    return this.request<T>('POST', path, { ...request, body });
  }

  put<T = unknown>(path: string, body?: unknown, request?: ConsulHttpRequest): Promise<T> {
    return this.request<T>('PUT', path, { ...request, body });
  }

  patch<T = unknown>(path: string, body?: unknown, request?: ConsulHttpRequest): Promise<T> {
    return this.request<T>('PATCH', path, { ...request, body });
  }

  delete<T = unknown>(path: string, request?: ConsulHttpRequest): Promise<T> {
    return this.request<T>('DELETE', path, request);
  }

  /** Stops following the instances and closes this client's connections, after the requests in flight. */
  close(): Promise<void> {
    this.untrack();
    this.instances.close();
    this.connector?.close();
    return this.pool.close();
  }

  /** Sends one request; the parsed JSON (or text) body on 2xx, a typed error otherwise. */
  request<T = unknown>(method: string, path: string, request: ConsulHttpRequest = {}): Promise<T> {
    const verb = method.toUpperCase();
    // One span per logical request, around its attempts (see HttpClientInstruments); none without a TracerProvider.
    const span = this.instruments.startRequest(verb);
    const attempts = this.attempts<T>(verb, path, request, span);
    return span ? this.instruments.ended(span, attempts) : attempts;
  }

  private async attempts<T>(verb: string, path: string, request: ConsulHttpRequest, span?: Span): Promise<T> {
    const maxAttempts = 1 + (IDEMPOTENT.has(verb) ? (this.options.retries ?? HTTP_CLIENT_DEFAULTS.retries) : 0);
    // Only a retry needs these: the first attempt of the usual request allocates neither.
    let failures: Array<{ instance: string; reason: string }> | undefined;
    let tried: Set<string> | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      request.signal?.throwIfAborted();
      // One lease per attempt, released when the attempt ends (its body read or dumped, or it failed).
      // Instances already known: chosen synchronously, no await. Else wait for discovery's answer.
      const lease = this.leaseNow(tried) ?? (await this.leaseLater(tried));
      const { instance } = lease;
      const startedAt = performance.now();
      try {
        const response = await (span
          ? this.instruments.inSpan(span, () => this.send(instance, verb, path, request))
          : this.send(instance, verb, path, request));
        this.instruments.attempt(span, instance, verb, attempt, response.statusCode, startedAt);
        if (response.statusCode === 503 && attempt < maxAttempts) {
          await response.body.dump(); // free the connection for the next request
          (failures ??= []).push({ instance: instanceTarget(instance), reason: 'HTTP 503' });
          (tried ??= new Set()).add(instance.id);
          continue;
        }
        this.ejector.success(instance.id);
        // Read here, not in an async helper: one promise less per request.
        const body = parseBody(await response.body.text(), response.headers['content-type']);
        if (response.statusCode < 200 || response.statusCode >= 300) {
          throw new UpstreamHttpResponseError(
            this.service,
            instanceTarget(instance),
            response.statusCode,
            body,
            verb,
            path,
          );
        }
        return body as T;
      } catch (error) {
        if (error instanceof UpstreamHttpResponseError) throw error;
        // Cancelled by the caller: not the instance's fault, and not to be tried elsewhere.
        if (request.signal?.aborted) throw request.signal.reason;
        this.instruments.attempt(span, instance, verb, attempt, transportOutcome(error), startedAt);
        if (this.ejector.failure(instance.id)) this.instruments.ejected(instance);
        // Another instance may well be genuine, so it is tried like after any failure; but an
        // impostor is no network blip, so say it once.
        if (this.connector) this.reportImpostor(instance, error);
        (failures ??= []).push({ instance: instanceTarget(instance), reason: transportReason(error) });
        (tried ??= new Set()).add(instance.id);
      } finally {
        lease.release();
      }
    }
    throw new UpstreamHttpTransportError(this.service, failures ?? [], verb, path);
  }

  private reportImpostor(instance: ServiceInstance, error: unknown): void {
    const wrong = wrongIdentityOf(error);
    if (!wrong || this.impostors?.has(instance.id)) return;
    (this.impostors ??= new Set()).add(instance.id);
    new Logger(LOG_CONTEXT.connect).warn(
      `Instance "${instance.id}" (${instanceTarget(instance)}) of "${this.service}" presented ` +
        `${wrong.presented ?? 'no SPIFFE id'}, not ${wrong.expected}: not called; check what is registered there`,
    );
  }

  /** A lease from the instances this client follows, or undefined while none are known. */
  private leaseNow(tried: Set<string> | undefined): Lease | undefined {
    const instances = this.instances.current;
    return instances && this.leaseAmong(instances, tried);
  }

  /** A lease once discovery has an answer; rejects with NoAvailableInstanceError when there are no instances. */
  private async leaseLater(tried: Set<string> | undefined): Promise<Lease> {
    return this.leaseAmong(await this.discovery.getAvailableInstances(this.service, this.query), tried);
  }

  /** A lease on an instance not yet tried and not ejected; falls back to ejected ones rather than failing. */
  private leaseAmong(instances: readonly ServiceInstance[], tried: Set<string> | undefined): Lease {
    // The usual case (first attempt, nothing ejected) filters nothing: this runs per request.
    if (!tried && !this.ejector.anyEjected) return acquireLease(this.balancer, instances);
    const fresh = tried ? instances.filter((i) => !tried.has(i.id)) : instances;
    const pool = fresh.length > 0 ? fresh : instances;
    const healthy = pool.filter((i) => !this.ejector.isEjected(i.id));
    return acquireLease(this.balancer, healthy.length > 0 ? healthy : pool);
  }

  private send(
    instance: ServiceInstance,
    method: string,
    path: string,
    request: ConsulHttpRequest,
  ): Promise<Dispatcher.ResponseData> {
    const base = `${this.scheme}://${instanceTarget(instance)}${path.startsWith('/') ? '' : '/'}${path}`;
    const url = request.query
      ? `${base}${base.includes('?') ? '&' : '?'}${new URLSearchParams(Object.entries(request.query).map(([k, v]): [string, string] => [k, String(v)]))}`
      : base;
    // The client's headers as they are, unless this request adds to them (undici does not change them).
    let headers = this.options.headers;
    let body: string | undefined;
    if (request.headers || request.body !== undefined) {
      headers = { ...this.options.headers, ...request.headers };
      if (request.body !== undefined) {
        body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
        headers['content-type'] ??= typeof request.body === 'string' ? 'text/plain' : 'application/json';
      }
    }
    return undiciRequest(url, {
      dispatcher: this.pool,
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      // Undici arms these timers on every request anyway (default 300 s): setting them is free.
      signal: request.signal,
      headersTimeout: request.timeoutMs ?? this.timeoutMs,
      bodyTimeout: request.timeoutMs ?? this.timeoutMs,
    });
  }
}

/** The body as JSON when the response says it is JSON (and it parses), else as text; undefined when empty. */
function parseBody(text: string, type: string | string[] | undefined): unknown {
  if (!text) return undefined;
  if ((Array.isArray(type) ? type[0] : (type ?? '')).includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** What undici's timeouts are called in a failed attempt's reason. */
const TIMEOUTS: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the response headers',
  UND_ERR_BODY_TIMEOUT: 'timed out waiting for the response body',
};

function transportReason(error: unknown): string {
  const err = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  const timeout = TIMEOUTS[err?.code ?? err?.cause?.code ?? ''];
  if (timeout) return timeout;
  // undici's own errors carry a code (ECONNREFUSED, UND_ERR_SOCKET…); TLS failures say why in the message.
  const code = err?.code ?? err?.cause?.code;
  const message = err?.cause?.message ?? err?.message;
  if (code && message && !message.includes(code)) return `${code}: ${message}`;
  return message ?? code ?? String(error);
}
