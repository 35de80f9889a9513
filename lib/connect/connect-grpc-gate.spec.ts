import { jest } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import type { CallerDecision } from './connect-authorizer.js';
import type { ConnectMaterial } from './connect-certificates.js';
import { ConnectGrpcGate, GRPC_HEALTH_CHECK_PATH } from './connect-grpc-gate.js';

/** Made by test/fixtures/connect/make.sh: a mesh CA, web's leaf from it, and three that must not pass. */
const pem = (name: string) => readFileSync(new URL(`../../test/fixtures/connect/${name}.pem`, import.meta.url), 'utf8');
const MESH_CA = pem('mesh-ca');
const FOREIGN_CA = pem('foreign-ca');
const WEB_URI = 'spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/web';
const HELLO = '/hello.Greeter/Hello';

const PERMISSION_DENIED = 7;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;

/** A certificate as grpc-js's `getAuthContext().sslPeerCertificate` carries it (the fields the gate reads). */
function peerOf(name: string): PeerCertificate {
  const x509 = new X509Certificate(pem(name));
  return {
    raw: x509.raw,
    fingerprint256: x509.fingerprint256,
    valid_from: x509.validFrom,
    valid_to: x509.validTo,
    serialNumber: x509.serialNumber,
    subjectaltname: x509.subjectAltName,
  } as PeerCertificate;
}

/** The certificates of "api" as the gate sees them: only the roots matter to it. */
class FakeCertificates {
  current: ConnectMaterial | undefined;
  private readonly listeners: Array<(material: ConnectMaterial) => void> = [];

  constructor(roots: string[]) {
    this.current = this.material(roots);
  }

  onChange(listener: (material: ConnectMaterial) => void): () => void {
    this.listeners.push(listener);
    return () => undefined;
  }

  /** A CA rotation (or any new material): listeners hear it, as ConnectCertificates' do. */
  rotate(roots: string[]): void {
    this.current = this.material(roots);
    for (const listener of this.listeners) listener(this.current);
  }

  private material(ca: string[]): ConnectMaterial {
    return { ca, trustDomain: '11111111-2222-3333-4444-555555555555.consul' } as ConnectMaterial;
  }
}

/** The authorizer's answer for every caller, and the calls it got. */
class FakeAuthorizer {
  readonly target = 'api';
  readonly asked: Array<[string, string]> = [];
  answer: CallerDecision | Promise<CallerDecision> = { allowed: true, caller: 'web', reason: 'ALLOW' };

  decide(uri: string, serial: string): CallerDecision | Promise<CallerDecision> {
    this.asked.push([uri, serial]);
    return this.answer;
  }
}

describe('ConnectGrpcGate', () => {
  let certificates: FakeCertificates;
  let authorizer: FakeAuthorizer;
  let warnings: string[];
  let gate: ConnectGrpcGate;

  beforeEach(() => {
    certificates = new FakeCertificates([MESH_CA]);
    authorizer = new FakeAuthorizer();
    warnings = [];
    gate = new ConnectGrpcGate(certificates, authorizer, { warn: (message: string) => warnings.push(message) });
  });

  afterEach(() => jest.useRealTimers());

  it("lets a caller without a certificate reach Health/Check only (Consul's check has none)", () => {
    expect(gate.admit(GRPC_HEALTH_CHECK_PATH, {})).toBeUndefined();
    expect(gate.admit(GRPC_HEALTH_CHECK_PATH, null)).toBeUndefined();
    expect(gate.admit(HELLO, {})).toEqual({
      code: UNAUTHENTICATED,
      details: expect.stringContaining('no client certificate'),
    });
    expect(authorizer.asked).toEqual([]);
  });

  it("refuses a certificate of another CA, a forged one, or one of the mesh's with no SPIFFE id, without asking the agent", () => {
    // forged-web-leaf names the mesh CA as its issuer, with its key id: only its signature is wrong.
    for (const name of ['foreign-web-leaf', 'forged-web-leaf']) {
      expect(gate.admit(HELLO, { sslPeerCertificate: peerOf(name) })).toEqual({
        code: UNAUTHENTICATED,
        details: "Consul Connect: the client certificate is not from this mesh's CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
      });
    }
    expect(gate.admit(HELLO, { sslPeerCertificate: peerOf('no-spiffe-leaf') })).toEqual({
      code: UNAUTHENTICATED,
      details: 'Consul Connect: the client certificate names no SPIFFE id',
    });
    expect(authorizer.asked).toEqual([]);
  });

  it("asks the intentions with the caller's SPIFFE id and serial, and lets an allowed call through", async () => {
    const web = peerOf('web-leaf');
    authorizer.answer = Promise.resolve({ allowed: true, caller: 'web', reason: 'ALLOW' });
    await expect(gate.admit(HELLO, { sslPeerCertificate: web })).resolves.toBeUndefined();
    // A decision in hand: answered on the spot.
    authorizer.answer = { allowed: true, caller: 'web', reason: 'ALLOW' };
    expect(gate.admit(HELLO, { sslPeerCertificate: web })).toBeUndefined();
    expect(authorizer.asked).toEqual([
      [WEB_URI, web.serialNumber],
      [WEB_URI, web.serialNumber],
    ]);
  });

  it('ends a denied call with PERMISSION_DENIED naming both services, warning once per decision taken', async () => {
    const web = { sslPeerCertificate: peerOf('web-leaf') };
    const denied: CallerDecision = { allowed: false, caller: 'web', reason: 'DENY intention web => api' };
    authorizer.answer = Promise.resolve(denied);
    const refusal = {
      code: PERMISSION_DENIED,
      details: 'Consul Connect: "web" may not call "api": DENY intention web => api',
    };
    await expect(gate.admit(HELLO, web)).resolves.toEqual(refusal);
    authorizer.answer = denied; // reused: no new warning
    expect(gate.admit(HELLO, web)).toEqual(refusal);
    expect(warnings).toEqual(['Refused a Connect call from "web" to "api": DENY intention web => api']);
  });

  it('ends a call with UNAVAILABLE when the agent could not be asked', async () => {
    authorizer.answer = Promise.resolve({
      allowed: false,
      unavailable: true,
      caller: 'web',
      reason: 'agent unreachable',
    });
    await expect(gate.admit(HELLO, { sslPeerCertificate: peerOf('web-leaf') })).resolves.toEqual({
      code: UNAVAILABLE,
      details: expect.stringMatching(/could not authorize "web" to call "api" now, try again: agent unreachable/),
    });
  });

  it('refuses a mesh certificate outside its validity window, even one it admitted before, saying which end', () => {
    const web = { sslPeerCertificate: peerOf('web-leaf') };
    expect(gate.admit(HELLO, web)).toBeUndefined();
    // A connection outlives its handshake: the leaf expires while calls still come on it.
    jest.useFakeTimers({ now: Date.parse(web.sslPeerCertificate.valid_to) + 1 });
    expect(gate.admit(HELLO, web)).toEqual({
      code: UNAUTHENTICATED,
      details: expect.stringMatching(/^Consul Connect: the client certificate has expired; its agent must renew it/),
    });
    jest.setSystemTime(Date.parse(web.sslPeerCertificate.valid_from) - 1);
    expect(gate.admit(HELLO, web)).toEqual({
      code: UNAUTHENTICATED,
      details: expect.stringMatching(/^Consul Connect: the client certificate is not valid yet/),
    });
    expect(authorizer.asked).toHaveLength(1);
  });

  it('checks certificates against the roots in hand: after a rotation to another CA, a known certificate is checked again', () => {
    const web = { sslPeerCertificate: peerOf('web-leaf') };
    const foreign = { sslPeerCertificate: peerOf('foreign-web-leaf') };
    expect(gate.admit(HELLO, web)).toBeUndefined();
    expect(gate.admit(HELLO, foreign)).toMatchObject({ code: UNAUTHENTICATED });

    certificates.rotate([FOREIGN_CA]);
    expect(gate.admit(HELLO, web)).toMatchObject({ code: UNAUTHENTICATED });
    expect(gate.admit(HELLO, foreign)).toBeUndefined();

    // During a rotation the material holds both roots: both kinds of callers pass.
    certificates.rotate([MESH_CA, FOREIGN_CA]);
    expect(gate.admit(HELLO, web)).toBeUndefined();
    expect(gate.admit(HELLO, foreign)).toBeUndefined();
  });

  it('refuses every caller while it has no certificates of its own yet', () => {
    certificates.current = undefined;
    expect(gate.admit(HELLO, { sslPeerCertificate: peerOf('web-leaf') })).toMatchObject({ code: UNAUTHENTICATED });
    expect(gate.admit(GRPC_HEALTH_CHECK_PATH, {})).toBeUndefined();
  });
});
