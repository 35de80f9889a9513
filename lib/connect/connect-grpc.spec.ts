import * as grpc from '@grpc/grpc-js';
import type { ConnectMaterial } from './connect-certificates.js';
import { ConnectCertificateProvider, checkConnectServer, missingGrpcFeatures } from './connect-grpc.js';

const TRUST = '11111111-2222-3333-4444-555555555555.consul';

function material(serial: string): ConnectMaterial {
  return {
    service: 'web',
    cert: `cert ${serial}`,
    key: `key ${serial}`,
    ca: ['root 1', 'root 2'],
    trustDomain: TRUST,
  } as ConnectMaterial;
}

/** ConnectCertificates as the provider uses it: material in hand (or a start to wait for), and changes. */
class FakeCertificates {
  readonly service = 'web';
  current: ConnectMaterial | undefined;
  starts = 0;
  startResult: Promise<ConnectMaterial> = new Promise(() => undefined);
  private readonly listeners: Array<(material: ConnectMaterial) => void> = [];

  onChange(listener: (material: ConnectMaterial) => void): () => void {
    this.listeners.push(listener);
    return () => undefined;
  }

  start(): Promise<ConnectMaterial> {
    this.starts++;
    return this.startResult;
  }

  renew(next: ConnectMaterial): void {
    this.current = next;
    for (const listener of this.listeners) listener(next);
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ConnectCertificateProvider', () => {
  let certificates: FakeCertificates;
  let errors: string[];
  let provider: ConnectCertificateProvider;
  let cas: string[];
  let identities: string[];
  const onCa = (update: grpc.experimental.CaCertificateUpdate | null) => cas.push(String(update?.caCertificate));
  const onIdentity = (update: grpc.experimental.IdentityCertificateUpdate | null) =>
    identities.push(`${update?.certificate} / ${update?.privateKey}`);

  beforeEach(() => {
    certificates = new FakeCertificates();
    errors = [];
    provider = new ConnectCertificateProvider(certificates, { error: (message: string) => errors.push(message) });
    cas = [];
    identities = [];
  });

  it('gives a new listener the certificates in hand on a later tick, never from inside add…Listener', async () => {
    certificates.current = material('01');
    provider.addCaCertificateListener(onCa);
    provider.addIdentityCertificateListener(onIdentity);
    expect(cas).toEqual([]);
    await tick();
    expect(cas.at(-1)).toBe('root 1\nroot 2');
    expect(identities.at(-1)).toBe('cert 01 / key 01');
    expect(certificates.starts).toBe(0);
  });

  it('pushes every renewal to every listener, and none to one removed', async () => {
    certificates.current = material('01');
    provider.addCaCertificateListener(onCa);
    provider.addIdentityCertificateListener(onIdentity);
    await tick();
    certificates.renew(material('02'));
    expect(identities.at(-1)).toBe('cert 02 / key 02');
    provider.removeIdentityCertificateListener(onIdentity);
    provider.removeCaCertificateListener(onCa);
    const heard = identities.length + cas.length;
    certificates.renew(material('03'));
    expect(identities.length + cas.length).toBe(heard);
  });

  it('starts the certificates once when none are in hand, and logs when they cannot be had', async () => {
    let fail!: (error: Error) => void;
    certificates.startResult = new Promise((_, reject) => (fail = reject));
    provider.addCaCertificateListener(onCa);
    provider.addIdentityCertificateListener(onIdentity);
    expect(certificates.starts).toBe(1);
    fail(new Error('Connect is off'));
    await tick();
    expect(errors).toEqual(['Consul Connect over gRPC has no certificate for "web": Connect is off']);
    expect(identities).toEqual([]);

    // A later listener tries again.
    certificates.startResult = Promise.resolve(material('01'));
    provider.addIdentityCertificateListener(onIdentity);
    await tick();
    expect(certificates.starts).toBe(2);
    expect(identities.at(-1)).toBe('cert 01 / key 01');
  });
});

describe('checkConnectServer', () => {
  const uri = (service: string, dc = 'dc1', trust = TRUST) =>
    `URI:spiffe://${trust}/ns/default/dc/${dc}/svc/${service}`;

  it("accepts the target's identity in this mesh, from any datacenter", () => {
    expect(checkConnectServer({ subjectaltname: uri('api') }, 'api', { trustDomain: TRUST })).toBeUndefined();
    expect(checkConnectServer({ subjectaltname: uri('api', 'dc2') }, 'api', { trustDomain: TRUST })).toBeUndefined();
  });

  it('refuses another service, another mesh, or no SPIFFE id, naming what was expected and presented', () => {
    expect(checkConnectServer({ subjectaltname: uri('other') }, 'api', { trustDomain: TRUST })?.message).toBe(
      `Consul Connect: the server called as "api" is not "api": expected spiffe://${TRUST}/ns/default/dc/*/svc/api, ` +
        `it presented spiffe://${TRUST}/ns/default/dc/dc1/svc/other`,
    );
    expect(
      checkConnectServer({ subjectaltname: uri('api', 'dc1', 'other.consul') }, 'api', { trustDomain: TRUST }),
    ).toBeInstanceOf(Error);
    expect(checkConnectServer({ subjectaltname: 'DNS:api' }, 'api', { trustDomain: TRUST })?.message).toMatch(
      /it presented a certificate with no SPIFFE id$/,
    );
    // No certificates of its own yet: nothing to compare with, so nothing is accepted.
    expect(checkConnectServer({ subjectaltname: uri('api') }, 'api', undefined)).toBeInstanceOf(Error);
  });
});

describe('missingGrpcFeatures', () => {
  it('finds everything in the installed grpc-js (the release the tests run)', () => {
    expect(missingGrpcFeatures(grpc, 'server')).toEqual([]);
    expect(missingGrpcFeatures(grpc, 'client')).toEqual([]);
  });

  it("names what an older grpc-js lacks: 1.13's server calls have no getAuthContext, 1.11 has no certificate providers", () => {
    class OldServerCall {}
    const like113 = { ...grpc, ServerInterceptingCall: OldServerCall };
    expect(missingGrpcFeatures(like113, 'server')).toEqual(['ServerInterceptingCall.prototype.getAuthContext']);
    expect(missingGrpcFeatures(like113, 'client')).toEqual([]);

    const like111 = { ...grpc, experimental: { createServerCredentialsWithInterceptors: () => undefined } };
    expect(missingGrpcFeatures(like111, 'client')).toEqual([
      'experimental.createCertificateProviderChannelCredentials',
    ]);
    expect(missingGrpcFeatures(like111, 'server')).toEqual(['experimental.createCertificateProviderServerCredentials']);
  });
});
