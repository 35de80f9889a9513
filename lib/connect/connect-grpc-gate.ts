import type { Logger } from '@nestjs/common';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { CallerDecision, ConnectAuthorizer } from './connect-authorizer.js';
import type { ConnectCertificates, ConnectMaterial } from './connect-certificates.js';
import { NO_SPIFFE_ID, untrusted } from './caller-refusals.js';
import { spiffeUriOf } from './spiffe-id.js';

/** The one method a caller without a Connect certificate may call: Consul's gRPC check has none. */
export const GRPC_HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** gRPC status codes (grpc-js's `status` enum, which this file does not load). */
const PERMISSION_DENIED = 7;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;

/** How a refused call ends. */
export interface GrpcRefusal {
  code: number;
  details: string;
}

/** What grpc-js's `call.getAuthContext()` gives (grpc-js ≥ 1.14). */
interface AuthContext {
  sslPeerCertificate?: PeerCertificate;
}

/**
 * grpc-js gives the gate no certificate that TLS did not accept (expired, another CA), so "none"
 * covers those too.
 */
const NO_MESH_CERTIFICATE =
  "no client certificate from this mesh's CA (none, or one TLS refused: expired or from another CA); " +
  'call with a certificate the Consul agent issued';

/** Most client certificates whose check is remembered; more is a flood, and the cache starts over. */
const VERIFIED_MAX = 1_024;

/**
 * Admits the calls of a Connect-native gRPC server, call by call, as the HTTP gate admits
 * requests: a caller needs a certificate of the mesh's CA whose SPIFFE id the intentions allow;
 * without one, it may call Health/Check only (the agent's check). Denied calls end with
 * PERMISSION_DENIED, calls from callers with no certificate of the mesh with UNAUTHENTICATED,
 * and UNAVAILABLE when the agent cannot be asked; one log line per decision, naming both services.
 */
export class ConnectGrpcGate {
  /**
   * fingerprint256 → the validity window and SPIFFE id of a certificate that chains to the
   * current roots, or false for one that does not; emptied when they change.
   */
  private readonly verified = new Map<string, { from: number; to: number; uri: string | undefined } | false>();

  constructor(
    private readonly certificates: Pick<ConnectCertificates, 'current' | 'onChange'>,
    private readonly authorizer: Pick<ConnectAuthorizer, 'decide' | 'target'>,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {
    certificates.onChange(() => this.verified.clear());
  }

  /** `undefined` to let the call through, or how to end it; a promise when the intentions must be asked. */
  admit(
    path: string,
    auth: AuthContext | null | undefined,
  ): GrpcRefusal | undefined | Promise<GrpcRefusal | undefined> {
    const peer = auth?.sslPeerCertificate;
    const caller = peer ? this.identify(peer) : { refused: NO_MESH_CERTIFICATE };
    if ('refused' in caller) {
      if (path === GRPC_HEALTH_CHECK_PATH) return undefined;
      return { code: UNAUTHENTICATED, details: `Consul Connect: ${caller.refused}` };
    }
    const decision = this.authorizer.decide(caller.uri, peer!.serialNumber);
    if (!(decision instanceof Promise)) return this.conclude(decision, false);
    return decision.then((fresh) => this.conclude(fresh, true));
  }

  private conclude(decision: CallerDecision, fresh: boolean): GrpcRefusal | undefined {
    if (decision.allowed) return undefined;
    const target = this.authorizer.target;
    // Logged when the decision is taken, not for every call it is reused for.
    if (fresh) this.logger.warn(`Refused a Connect call from "${decision.caller}" to "${target}": ${decision.reason}`);
    return decision.unavailable
      ? {
          code: UNAVAILABLE,
          details: `Consul Connect: could not authorize "${decision.caller}" to call "${target}" now, try again: ${decision.reason}`,
        }
      : {
          code: PERMISSION_DENIED,
          details: `Consul Connect: "${decision.caller}" may not call "${target}": ${decision.reason}`,
        };
  }

  /**
   * The caller's SPIFFE id when its certificate was issued by one of the mesh's roots and is valid
   * now, or why not. Checked here, not taken from grpc-js: its AuthContext carries no "authorized"
   * flag (1.14 leaves the certificate out of unverified connections, which its API does not
   * promise), so the chain is checked with Node's X509Certificate (`checkIssued` + `verify`)
   * against `material.ca`. The validity window is checked on every call: a connection outlives the
   * handshake that verified it. Connect's built-in CA signs leaves with the root itself; a leaf
   * under an intermediate CA is not admitted.
   */
  private identify(peer: PeerCertificate): { uri: string } | { refused: string } {
    const material = this.certificates.current;
    if (!material || !peer.raw) return { refused: NO_MESH_CERTIFICATE };
    let checked = this.verified.get(peer.fingerprint256);
    if (checked === undefined) {
      // Read once per certificate, with its chain, not on every call.
      checked = issuedByRoot(peer.raw, material)
        ? { from: Date.parse(peer.valid_from), to: Date.parse(peer.valid_to), uri: spiffeUriOf(peer) }
        : false;
      if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
      this.verified.set(peer.fingerprint256, checked);
    }
    if (!checked) return { refused: untrusted('UNABLE_TO_VERIFY_LEAF_SIGNATURE') };
    const now = Date.now();
    if (now > checked.to) return { refused: untrusted('CERT_HAS_EXPIRED') };
    if (now < checked.from) return { refused: untrusted('CERT_NOT_YET_VALID') };
    return checked.uri === undefined ? { refused: NO_SPIFFE_ID } : { uri: checked.uri };
  }
}

function issuedByRoot(raw: Buffer, material: ConnectMaterial): boolean {
  try {
    const leaf = new X509Certificate(raw);
    return material.ca.some((pem) => {
      const root = new X509Certificate(pem);
      return leaf.checkIssued(root) && leaf.verify(root.publicKey);
    });
  } catch {
    return false;
  }
}
