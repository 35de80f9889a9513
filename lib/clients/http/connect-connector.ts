import type { PeerCertificate } from 'node:tls';
import { buildConnector } from 'undici';
import type { ConnectCertificates, ConnectMaterial } from '../../connect/connect-certificates.js';
import { ConsulConnectError } from '../../connect/connect.errors.js';
import { parseServiceIdentity, sameService, spiffeUriOf } from '../../connect/spiffe-id.js';

/**
 * How an HTTP client opens its connections over Consul Connect native: TLS with the app's own
 * leaf certificate, trusting the mesh's roots only, to a server whose SPIFFE id names the service
 * the client calls. One per client; the undici connector inside is rebuilt on every renewal or CA
 * rotation, so new connections use the new material and open ones keep theirs.
 */
export class ConnectConnector {
  private current?: buildConnector.connector;
  private readonly starting: Promise<ConnectMaterial>;
  private readonly unsubscribe: () => void;

  constructor(
    /** The service the client calls: the identity every server must present. */
    private readonly target: string,
    /** The app's own leaf and the roots. */
    private readonly identity: ConnectCertificates,
    /** Undici's connect timeout (ms). */
    private readonly timeoutMs: number,
  ) {
    this.unsubscribe = identity.onChange((material) => this.build(material));
    this.starting = identity.start();
    // Kept for the first connection, which reports the failure; nothing else awaits it.
    this.starting.then(
      (material) => this.current ?? this.build(material),
      () => undefined,
    );
  }

  /** Undici's `connect` option: the current connector, or the first one once the app's leaf is in hand. */
  readonly connect = (options: buildConnector.Options, callback: buildConnector.Callback): void => {
    if (this.current) {
      this.current(options, callback);
      return;
    }
    this.starting.then(
      (material) => (this.current ?? this.build(material))(options, callback),
      (error: Error) => callback(error, null),
    );
  };

  close(): void {
    this.unsubscribe();
  }

  private build(material: ConnectMaterial): buildConnector.connector {
    const { target } = this;
    const { trustDomain } = material;
    this.current = buildConnector({
      cert: material.cert,
      key: material.key,
      ca: material.ca,
      rejectUnauthorized: true,
      timeout: this.timeoutMs,
      // No session resumption: Node skips checkServerIdentity on a resumed session, and every
      // connection must show who it is. Connections are kept alive, so a full handshake is rare.
      maxCachedSessions: 0,
      // The chain to the mesh's roots is checked by OpenSSL first; this checks who the server is.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const presented = spiffeUriOf(cert);
        const identity = presented && parseServiceIdentity(presented);
        if (identity && sameService(identity, { trustDomain, service: target })) return undefined;
        return wrongIdentityError(target, {
          expected: `spiffe://${trustDomain}/ns/default/dc/<dc>/svc/${target}`,
          presented,
        });
      },
    });
    return this.current;
  }
}

/** Who a refused server was and who it should have been. */
export interface WrongIdentity {
  /** The identity the client called, any datacenter: `spiffe://<trust-domain>/ns/default/dc/<dc>/svc/<service>`. */
  expected: string;
  /** The SPIFFE id the server's certificate names, or undefined when it names none. */
  presented: string | undefined;
}

// The errors checkServerIdentity returned, with what they are about: a ConsulConnectError like
// every Connect refusal, told apart from the others (Connect off, no permission) without a class
// of its own that users would never meet (it reaches them as a reason of the transport error).
const wrongIdentities = new WeakMap<object, WrongIdentity>();

function wrongIdentityError(service: string, wrong: WrongIdentity): ConsulConnectError {
  const error = new ConsulConnectError(
    `the server presented ${wrong.presented ? `"${wrong.presented}"` : 'a certificate with no SPIFFE id'}, ` +
      `not "${wrong.expected}": it is not an instance of "${service}"`,
    service,
  );
  wrongIdentities.set(error, wrong);
  return error;
}

/** The wrong identity a failed attempt ran into, if that is why it failed (undici may wrap the error). */
export function wrongIdentityOf(error: unknown): WrongIdentity | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const cause = (error as { cause?: unknown }).cause;
  return (
    wrongIdentities.get(error) ?? (typeof cause === 'object' && cause !== null ? wrongIdentities.get(cause) : undefined)
  );
}
