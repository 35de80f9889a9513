import type { Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { CallerDecision, ConnectAuthorizer } from './connect-authorizer.js';
import type { ConnectCertificates, ConnectMaterial } from './connect-certificates.js';
import { NO_SPIFFE_ID, untrusted } from './caller-refusals.js';
import { spiffeUriOf } from './spiffe-id.js';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Who is on the other end of one TLS connection, worked out once per connection. */
type Peer = { uri: string; serial: string } | { refused: string };

/**
 * Connect on the app's own HTTPS server (Express or Fastify alike): serves the leaf certificate,
 * swapped in place on every renewal or CA rotation (`setSecureContext`: new connections get the
 * new one, open ones keep theirs), and stands in front of the server's request listeners, so no
 * route, middleware or 404 handler runs for a caller the intentions do not allow.
 *
 * A caller without a certificate reaches the health endpoint only: that is how the agent's check
 * (which has no Connect certificate) sees the app. Every other refusal is a 403 (a 503 when the
 * agent cannot be asked) that says why, and one log line that names both services.
 */
export class ConnectHttpGate {
  private readonly peers = new WeakMap<TLSSocket, Peer>();
  private listeners: RequestListener[] = [];
  private unsubscribe?: () => void;

  constructor(
    private readonly server: TlsServer,
    private readonly certificates: ConnectCertificates,
    private readonly authorizer: ConnectAuthorizer,
    /** Path of the health endpoint (no query), open to callers without a certificate. */
    private readonly healthPath: string | undefined,
    private readonly logger: Logger,
  ) {}

  /** Serves `material` now and every later one, and takes the server's request listeners behind the gate. */
  attach(material: ConnectMaterial): void {
    this.server.setSecureContext(secureContextOf(material));
    this.unsubscribe = this.certificates.onChange((next) => this.server.setSecureContext(secureContextOf(next)));
    this.listeners = this.server.listeners('request') as RequestListener[];
    this.server.removeAllListeners('request');
    this.server.on('request', this.gate);
  }

  /** Gives the server its own listeners back (shutdown). */
  detach(): void {
    this.unsubscribe?.();
    if (!this.listeners.length) return;
    this.server.removeListener('request', this.gate);
    for (const listener of this.listeners) this.server.on('request', listener);
    this.listeners = [];
  }

  private readonly gate = (req: IncomingMessage, res: ServerResponse): void => {
    const peer = this.peerOf(req.socket as TLSSocket);
    if ('refused' in peer) {
      if (this.isHealthRequest(req)) this.pass(req, res);
      else this.refuse(res, 403, `Consul Connect: ${peer.refused}`);
      return;
    }
    const decision = this.authorizer.decide(peer.uri, peer.serial);
    if (!(decision instanceof Promise)) {
      this.conclude(decision, req, res, false);
      return;
    }
    decision.then((fresh) => this.conclude(fresh, req, res, true));
  };

  private conclude(decision: CallerDecision, req: IncomingMessage, res: ServerResponse, fresh: boolean): void {
    if (decision.allowed) {
      this.pass(req, res);
      return;
    }
    const target = this.authorizer.target;
    // Logged when the decision is taken, not for every request it is reused for.
    if (fresh) this.logger.warn(`Refused a Connect call from "${decision.caller}" to "${target}": ${decision.reason}`);
    const message = decision.unavailable
      ? `Consul Connect: could not authorize "${decision.caller}" to call "${target}" now, try again: ${decision.reason}`
      : `Consul Connect: "${decision.caller}" may not call "${target}": ${decision.reason}`;
    this.refuse(res, decision.unavailable ? 503 : 403, message);
  }

  private pass(req: IncomingMessage, res: ServerResponse): void {
    for (const listener of this.listeners) listener.call(this.server, req, res);
  }

  private peerOf(socket: TLSSocket): Peer {
    let peer = this.peers.get(socket);
    if (!peer) {
      peer = identify(socket);
      this.peers.set(socket, peer);
    }
    return peer;
  }

  private isHealthRequest(req: IncomingMessage): boolean {
    if (!this.healthPath || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const path = req.url?.split('?', 1)[0];
    return path === this.healthPath;
  }

  private refuse(res: ServerResponse, statusCode: number, message: string): void {
    const body = JSON.stringify({
      statusCode,
      error: statusCode === 403 ? 'Forbidden' : 'Service Unavailable',
      message,
    });
    res.writeHead(statusCode, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }
}

/** The caller's SPIFFE id, or why it has none worth asking about. */
function identify(socket: TLSSocket): Peer {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) {
    return { refused: 'no client certificate; call with a certificate from the Consul Connect CA' };
  }
  if (!socket.authorized) return { refused: untrusted(String(socket.authorizationError)) };
  const uri = spiffeUriOf(cert);
  if (!uri) return { refused: NO_SPIFFE_ID };
  return { uri, serial: cert.serialNumber };
}

function secureContextOf(material: ConnectMaterial) {
  return { key: material.key, cert: material.cert, ca: material.ca };
}
