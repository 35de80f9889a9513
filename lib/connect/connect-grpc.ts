import type { Logger } from '@nestjs/common';
import type {
  ChannelCredentials,
  experimental,
  ServerCredentials,
  ServerInterceptingCall,
  ServerInterceptingCallInterface,
} from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { MissingPeerError, optionalGrpcJs, optionalRequire } from '../common/optional-peers.js';
import type { ConnectAuthorizer } from './connect-authorizer.js';
import type { ConnectCertificates, ConnectMaterial } from './connect-certificates.js';
import { ConnectGrpcGate } from './connect-grpc-gate.js';
import { ConsulConnectError } from './connect.errors.js';
import { parseServiceIdentity, sameService, spiffeUriOf } from './spiffe-id.js';

type GrpcJs = typeof import('@grpc/grpc-js');
type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * What each side of Connect over gRPC needs of grpc-js's public API, and the first release that
 * has all of it (checked against the published 1.11–1.14 packages): certificate-provider channel
 * credentials came in 1.12; a server call's `getAuthContext()`, which gives the server the
 * caller's certificate, in 1.14.
 */
const GRPC_JS_NEEDS = {
  client: { release: '1.12', features: ['experimental.createCertificateProviderChannelCredentials'] },
  server: {
    release: '1.14',
    features: [
      'experimental.createCertificateProviderServerCredentials',
      'experimental.createServerCredentialsWithInterceptors',
      'ServerInterceptingCall',
      'ServerInterceptingCall.prototype.getAuthContext',
      'ServerListenerBuilder',
      'ResponderBuilder',
    ],
  },
} as const;

/** The features of `side`'s list that `grpc` lacks (each a path under the module, as listed above). */
export function missingGrpcFeatures(grpc: object, side: keyof typeof GRPC_JS_NEEDS): string[] {
  return GRPC_JS_NEEDS[side].features.filter((path) => {
    const value = path
      .split('.')
      .reduce<unknown>((at, key) => (at == null ? undefined : (at as Record<string, unknown>)[key]), grpc);
    return typeof value !== 'function';
  });
}

/**
 * `@grpc/grpc-js` with what `side` of Connect over gRPC needs. A {@link MissingPeerError} when it
 * is not installed; a {@link ConsulConnectError} naming the release to install when it is older.
 */
export function connectGrpcJs(service: string, side: keyof typeof GRPC_JS_NEEDS): GrpcJs {
  const grpc = optionalGrpcJs();
  if (!grpc) throw new MissingPeerError('Consul Connect over gRPC', ['@grpc/grpc-js', '@grpc/proto-loader']);
  const missing = missingGrpcFeatures(grpc, side);
  if (missing.length > 0) {
    const { release } = GRPC_JS_NEEDS[side];
    const version = optionalRequire<{ version: string }>('@grpc/grpc-js/package.json')?.version ?? 'unknown';
    throw new ConsulConnectError(
      `Consul Connect over gRPC (a ${side} of "${service}") needs @grpc/grpc-js ${release} or later; ` +
        `${version} is installed, which lacks grpc.${missing.join(', grpc.')}: npm install @grpc/grpc-js@^${release}`,
      service,
    );
  }
  return grpc;
}

/**
 * grpc-js's view of one service's Connect certificates: the leaf and key as the identity, the
 * mesh's roots as the CA, pushed again on every renewal or CA rotation, so new connections use
 * the new ones without a restart (open ones keep theirs). One object serves both kinds of
 * listeners, so it is passed as both providers: grpc-js 1.14's
 * `createCertificateProviderServerCredentials` hands its two providers to the constructor in
 * the other order, which makes no difference then.
 */
export class ConnectCertificateProvider implements CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private starting?: Promise<void>;

  constructor(
    private readonly certificates: Pick<ConnectCertificates, 'current' | 'onChange' | 'start' | 'service'>,
    private readonly logger: Pick<Logger, 'error'>,
  ) {
    certificates.onChange((material) => this.push(material));
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    this.deliver();
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    this.deliver();
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  /** The certificates in hand go to the listeners on a later tick (never from inside add…Listener, as grpc-js's own provider does). */
  private deliver(): void {
    const material = this.certificates.current;
    if (material) {
      process.nextTick(() => this.push(material));
      return;
    }
    // Not started yet (a client made before the app's init, a microservice's own service): start it.
    this.starting ??= this.certificates.start().then(
      (first) => this.push(first),
      (error: unknown) => {
        this.starting = undefined;
        // Nothing is served or called without certificates: grpc-js refuses connections meanwhile.
        this.logger.error(
          `Consul Connect over gRPC has no certificate for "${this.certificates.service}": ${(error as Error).message}`,
        );
      },
    );
  }

  private push(material: ConnectMaterial): void {
    const ca = { caCertificate: Buffer.from(material.ca.join('\n')) };
    const identity = { certificate: Buffer.from(material.cert), privateKey: Buffer.from(material.key) };
    for (const listener of this.caListeners) listener(ca);
    for (const listener of this.identityListeners) listener(identity);
  }
}

/**
 * Server credentials of a Connect-native gRPC server for `service`: its leaf, the roots to check
 * callers' certificates against, and the interceptor that admits each call by the intentions.
 * A client certificate is asked for, not required: Consul's gRPC check has none, and reaches
 * Health/Check only.
 */
export function connectGrpcServerCredentials(
  grpc: GrpcJs,
  certificates: ConnectCertificates,
  authorizer: ConnectAuthorizer,
  logger: Logger,
): ServerCredentials {
  const provider = new ConnectCertificateProvider(certificates, logger);
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
  const gate = new ConnectGrpcGate(certificates, authorizer, logger);
  const interceptor = (method: { path: string }, call: ServerInterceptingCallInterface): ServerInterceptingCall => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const refusal = gate.admit(method.path, call.getAuthContext());
        if (refusal === undefined) return next(metadata);
        if (!(refusal instanceof Promise)) return call.sendStatus(refusal);
        refusal.then((status) => (status === undefined ? next(metadata) : call.sendStatus(status)));
      })
      .build();
    return new grpc.ServerInterceptingCall(
      call,
      new grpc.ResponderBuilder().withStart((next) => next(listener)).build(),
    );
  };
  return grpc.experimental.createServerCredentialsWithInterceptors(credentials, [interceptor]);
}

/**
 * Channel credentials of a Connect client: this app's own leaf (`certificates`) as the client
 * certificate, the mesh's roots to check servers against, and a server is accepted only when its
 * certificate's SPIFFE id names `target` in this mesh's trust domain (any datacenter).
 */
export function connectGrpcChannelCredentials(
  grpc: GrpcJs,
  certificates: ConnectCertificates,
  target: string,
  logger: Logger,
): ChannelCredentials {
  const provider = new ConnectCertificateProvider(certificates, logger);
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
    // Called by Node once the chain verified against the roots; the host name means nothing in the mesh.
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      checkConnectServer(cert, target, certificates.current),
  });
}

/** `undefined` when `cert` is `target`'s in this mesh, else an Error naming the expected and the presented identity. */
export function checkConnectServer(
  cert: Pick<PeerCertificate, 'subjectaltname'>,
  target: string,
  material: Pick<ConnectMaterial, 'trustDomain'> | undefined,
): Error | undefined {
  const presented = spiffeUriOf(cert);
  const identity = presented === undefined ? undefined : parseServiceIdentity(presented);
  if (identity && material && sameService(identity, { trustDomain: material.trustDomain, service: target })) {
    return undefined;
  }
  const expected = `spiffe://${material?.trustDomain ?? '<trust domain>'}/ns/default/dc/*/svc/${target}`;
  return new ConsulConnectError(
    `Consul Connect: the server called as "${target}" is not "${target}": expected ${expected}, ` +
      `it presented ${presented ?? 'a certificate with no SPIFFE id'}`,
    target,
  );
}
