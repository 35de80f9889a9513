import type { ConnectAuthorization, ConnectCaRoots, ConnectLeafCert } from './consul-api.types.js';
import { blockingTimeout, type ConsulConnection, urlSegment, waitParam } from './consul-connection.js';
import { ConsulRequestError } from './consul-request.error.js';
import { consulIndex, preview, type RawResponse } from './consul-transport.js';

/** A blocking read's position: 0 answers at once; more blocks until a change or `waitMs`. */
export interface BlockingRead {
  index: number;
  waitMs: number;
  signal?: AbortSignal;
}

/**
 * `/v1/agent/connect` and `/v1/connect`: the CA roots, this app's leaf certificate, the
 * authorization of a caller, and the intentions' index. Direct calls: the `consul` package
 * has none of them. The agent keeps the roots and leaves in its cache and renews leaves itself;
 * blocking reads hear a renewal or a CA rotation the moment the agent has it.
 */
export class ConnectEndpoints {
  constructor(private readonly connection: ConsulConnection) {}

  /** The CA roots every certificate of the mesh chains to, and the trust domain. */
  caRoots(read: BlockingRead): Promise<{ roots: ConnectCaRoots; index: number }> {
    const action = 'read the Connect CA roots';
    return this.blockingGet(action, '/agent/connect/ca/roots', read).then((res) => ({
      roots: this.expectObject<ConnectCaRoots>(res, action, ['TrustDomain', 'Roots']),
      index: consulIndex(res),
    }));
  }

  /** The leaf certificate (and its private key) the agent issues for `service`. */
  leafCertificate(service: string, read: BlockingRead): Promise<{ leaf: ConnectLeafCert; index: number }> {
    const action = `read the Connect leaf certificate of service "${service}"`;
    let path: string;
    try {
      path = `/agent/connect/ca/leaf/${urlSegment(service, `service name "${service}"`)}`;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.blockingGet(action, path, read).then((res) => ({
      leaf: this.expectObject<ConnectLeafCert>(res, action, ['CertPEM', 'PrivateKeyPEM', 'ServiceURI']),
      index: consulIndex(res),
    }));
  }

  /**
   * Whether the caller with certificate URI `clientCertUri` may call `target`, by the intentions
   * (the agent answers from its cache, which follows them).
   */
  async authorize(
    target: string,
    clientCertUri: string,
    clientCertSerial: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ConnectAuthorization> {
    const action = `authorize a Connect call to "${target}" from ${clientCertUri}`;
    const res = await this.connection.direct({
      action,
      method: 'POST',
      path: '/agent/connect/authorize',
      json: { Target: target, ClientCertURI: clientCertUri, ClientCertSerial: clientCertSerial },
      ...options,
    });
    return this.expectObject<ConnectAuthorization>(res, action, ['Authorized']);
  }

  /**
   * The index of the intentions: it moves whenever one is created, changed or deleted, which is
   * when cached authorizations are stale. Only the index is read (the list can be long).
   */
  intentionsIndex(read: BlockingRead): Promise<{ index: number }> {
    return this.blockingGet('watch the Connect intentions', '/connect/intentions', read).then((res) => ({
      index: consulIndex(res),
    }));
  }

  private blockingGet(action: string, path: string, { index, waitMs, signal }: BlockingRead): Promise<RawResponse> {
    const blocking = index > 0;
    return this.connection.direct({
      action,
      method: 'GET',
      path,
      query: blocking ? { index: String(index), wait: waitParam(waitMs) } : undefined,
      timeoutMs: blocking ? blockingTimeout(waitMs, this.connection.options.timeoutMs) : undefined,
      signal,
    });
  }

  private expectObject<T>(res: RawResponse, action: string, fields: readonly string[]): T {
    const body = res.body;
    const isObject = typeof body === 'object' && body !== null && !Array.isArray(body) && !Buffer.isBuffer(body);
    const missing = isObject ? fields.filter((field) => !(field in body)) : fields;
    if (missing.length === 0) return body as T;
    throw new ConsulRequestError(
      action,
      this.connection.address,
      res.statusCode,
      `expected a JSON object with ${fields.join(', ')}, got ${preview(body)}`,
    );
  }
}
