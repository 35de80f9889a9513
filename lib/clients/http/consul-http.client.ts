import { Agent, type Dispatcher, request as undiciRequest } from 'undici';
import { acquireLease, type Lease, type LoadBalancer } from '../../balancing/load-balancer.js';
import type { ConsulDiscoveryService, DiscoveryQuery } from '../../discovery/consul-discovery.service.js';
import { instanceTarget, type ServiceInstance } from '../../discovery/service-instance.js';
import { ConsulHttpResponseError, ConsulHttpTransportError } from './consul-http.errors.js';
import { OutlierEjector } from './outlier-ejector.js';
import type { Span } from '@opentelemetry/api';
import { HttpClientInstruments, transportOutcome } from '../../observability/http-client.instruments.js';

export interface ConsulHttpClientOptions {
  /** Which instances to call (tags, dc, filter…). */
  query?: DiscoveryQuery;
  /** `http` (default) or `https`. */
  scheme?: 'http' | 'https';
  /** Per-request timeout in ms. Default 5000. */
  timeoutMs?: number;
  /** Extra attempts, each on another instance, for idempotent requests after a connection error or 503. Default 1. */
  retries?: number;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** Skip an instance after this many transport failures in a row, for `cooldownMs`. Default 3 and 10000. */
  outlier?: { consecutiveFailures?: number; cooldownMs?: number };
  /**
   * For `scheme: "https"`: the CA that signed the instances' certificates, and this client's own
   * certificate and key when they require one (mutual TLS).
   */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; servername?: string };
  /** Most connections kept open to one instance. Default: no limit. */
  connections?: number;
}

export interface ConsulHttpRequest {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  /** Overrides the client's timeout for this request (ms). */
  timeoutMs?: number;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/**
 * HTTP to a service discovered in Consul: a fresh instance choice per request, keep-alive
 * connections per instance in this client's own pool (closed with the client; TLS and client
 * certificates per client), retries of idempotent requests on another instance, per-request
 * timeouts, and passive outlier ejection.
 */
export class ConsulHttpClient {
  private readonly ejector: OutlierEjector;
  private readonly pool: Agent;
  private readonly instruments: HttpClientInstruments;
  private readonly untrack: () => void;

  constructor(
    readonly service: string,
    private readonly discovery: ConsulDiscoveryService,
    private readonly balancer: LoadBalancer,
    private readonly options: ConsulHttpClientOptions = {},
  ) {
    this.ejector = new OutlierEjector(options.outlier?.consecutiveFailures ?? 3, options.outlier?.cooldownMs ?? 10_000);
    const { tls, connections } = options;
    this.pool = new Agent({ connections, ...(tls ? { connect: { ...tls } } : {}) });
    this.instruments = new HttpClientInstruments(service);
    this.untrack = this.instruments.track({ service, owner: discovery, status: () => this.status() });
  }

  /** For `ConsulStatusService.snapshot()`: the balancer and the instances ejected now. */
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

  /** Closes this client's connections, after the requests in flight. */
  close(): Promise<void> {
    this.untrack();
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
    const maxAttempts = 1 + (IDEMPOTENT.has(verb) ? (this.options.retries ?? 1) : 0);
    const failures: Array<{ instance: string; reason: string }> = [];
    const tried = new Set<string>();
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      // One lease per attempt, released when the attempt ends (its body read or dumped, or it failed).
      const lease = await this.lease(tried);
      const { instance } = lease;
      tried.add(instance.id);
      const startedAt = performance.now();
      try {
        const sending = span
          ? this.instruments.inSpan(span, () => this.send(instance, verb, path, request))
          : this.send(instance, verb, path, request);
        const response = await sending;
        this.instruments.attempt(span, instance, verb, attempt, response.statusCode, startedAt);
        if (response.statusCode === 503 && attempt < maxAttempts) {
          await response.body.dump(); // free the connection for the next request
          failures.push({ instance: instanceTarget(instance), reason: 'HTTP 503' });
          continue;
        }
        this.ejector.success(instance.id);
        const body = await readBody(response);
        if (response.statusCode < 200 || response.statusCode >= 300) {
          throw new ConsulHttpResponseError(
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
        if (error instanceof ConsulHttpResponseError) throw error;
        this.instruments.attempt(span, instance, verb, attempt, transportOutcome(error), startedAt);
        if (this.ejector.failure(instance.id)) this.instruments.ejected(instance);
        failures.push({ instance: instanceTarget(instance), reason: transportReason(error) });
      } finally {
        lease.release();
      }
    }
    throw new ConsulHttpTransportError(this.service, failures, verb, path);
  }

  /** A lease on an instance not yet tried and not ejected; falls back to ejected ones rather than failing. */
  private async lease(tried: Set<string>): Promise<Lease> {
    const instances = await this.discovery.getAvailableInstances(this.service, this.options.query);
    // The usual case (first attempt, nothing ejected) filters nothing: this runs per request.
    if (tried.size === 0 && !this.ejector.anyEjected) return acquireLease(this.balancer, instances);
    const fresh = instances.filter((i) => !tried.has(i.id));
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
    const base = `${this.options.scheme ?? 'http'}://${instanceTarget(instance)}${path.startsWith('/') ? '' : '/'}${path}`;
    const url = request.query
      ? `${base}${base.includes('?') ? '&' : '?'}${new URLSearchParams(Object.entries(request.query).map(([k, v]): [string, string] => [k, String(v)]))}`
      : base;
    const headers: Record<string, string> = { ...this.options.headers, ...request.headers };
    let body: string | undefined;
    if (request.body !== undefined) {
      body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
      headers['content-type'] ??= typeof request.body === 'string' ? 'text/plain' : 'application/json';
    }
    return undiciRequest(url, {
      dispatcher: this.pool,
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      signal: AbortSignal.timeout(request.timeoutMs ?? this.options.timeoutMs ?? 5_000),
    });
  }
}

async function readBody(response: Dispatcher.ResponseData): Promise<unknown> {
  const text = await response.body.text();
  if (!text) return undefined;
  const type = response.headers['content-type'];
  if ((Array.isArray(type) ? type[0] : (type ?? '')).includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function transportReason(error: unknown): string {
  const err = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return 'timed out';
  // undici's own errors carry a code (ECONNREFUSED, UND_ERR_SOCKET…); TLS failures say why in the message.
  const code = err?.code ?? err?.cause?.code;
  const message = err?.cause?.message ?? err?.message;
  if (code && message && !message.includes(code)) return `${code}: ${message}`;
  return message ?? code ?? String(error);
}
