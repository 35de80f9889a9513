import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import type { ConsulAgent } from './consul-agent.js';
import { eventually } from './eventually.js';

/** A Connect identity as a test caller holds it: a leaf of the agent's CA for `service`, and the roots. */
export interface ConnectPeer {
  service: string;
  key: string;
  cert: string;
  ca: string[];
  uri: string;
}

/** The leaf the agent issues to `service`, as a caller outside the app would get it. */
export async function connectPeer(agent: ConsulAgent, service: string): Promise<ConnectPeer> {
  const leaf = await agent.json<{ PrivateKeyPEM: string; CertPEM: string; ServiceURI: string }>(
    `/v1/agent/connect/ca/leaf/${service}`,
  );
  const roots = await agent.json<{ Roots: Array<{ RootCert: string }> }>('/v1/agent/connect/ca/roots');
  return {
    service,
    key: leaf.PrivateKeyPEM,
    cert: leaf.CertPEM,
    ca: roots.Roots.map((root) => root.RootCert),
    uri: leaf.ServiceURI,
  };
}

export interface HttpsAnswer {
  status: number;
  body: string;
  /** The SPIFFE URI the server presented. */
  serverUri?: string;
  serverSerial?: string;
}

/**
 * One HTTPS GET to 127.0.0.1:`port`, as `peer` (or with no certificate, or with `client`'s own
 * key and certificate), trusting the mesh's roots (or none: `ca` undefined skips verification).
 * A fresh connection each time: what a new caller would see.
 */
export function httpsGet(
  port: number,
  path: string,
  tls: { key?: string; cert?: string; ca?: string[] },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        key: tls.key,
        cert: tls.cert,
        ca: tls.ca,
        rejectUnauthorized: tls.ca !== undefined,
        // The mesh's certificates name a SPIFFE id, not a host: the caller checks the id itself.
        checkServerIdentity: () => undefined,
      },
      (res) => {
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate() as PeerCertificate;
        const serverUri = peer.subjectaltname
          ?.split(', ')
          .find((name) => name.startsWith('URI:'))
          ?.slice(4);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serverUri, serverSerial: peer.serialNumber }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Creates an intention from `source` to `destination` on `agent`; resolves its id. */
export async function createIntention(
  agent: ConsulAgent,
  source: string,
  destination: string,
  action: 'allow' | 'deny',
): Promise<string> {
  const res = await agent.api('/v1/connect/intentions', {
    method: 'POST',
    body: JSON.stringify({ SourceName: source, DestinationName: destination, Action: action }),
  });
  if (!res.ok) throw new Error(`create intention ${source} → ${destination}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { ID: string }).ID;
}

/** Deletes the intention `id` on `agent`. */
export async function deleteIntention(agent: ConsulAgent, id: string): Promise<void> {
  const res = await agent.api(`/v1/connect/intentions/${id}`, { method: 'DELETE' });
  if (!res.ok) throw new Error(`delete intention ${id}: ${res.status} ${await res.text()}`);
}

/**
 * Rotates the Connect CA to a new key (Consul 1.8's built-in provider makes a new root from it,
 * cross-signed by the old one), and resolves once the agent serves the new root as the active
 * one: when the PUT was sent, and the new root's PEM. The agent then re-signs every leaf at a
 * random moment within 30 s, for blocking readers.
 */
export async function rotateConnectCa(agent: ConsulAgent): Promise<{ putAt: number; newRoot: string }> {
  type Roots = { ActiveRootID: string; Roots: Array<{ ID: string; RootCert: string }> };
  const before = await agent.json<Roots>('/v1/agent/connect/ca/roots');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const putAt = Date.now();
  const res = await agent.api('/v1/connect/ca/configuration', {
    method: 'PUT',
    body: JSON.stringify({
      Provider: 'consul',
      Config: {
        LeafCertTTL: '72h',
        RotationPeriod: '2160h',
        IntermediateCertTTL: '8760h',
        PrivateKey: privateKey.export({ type: 'sec1', format: 'pem' }),
      },
      ForceWithoutCrossSigning: false,
    }),
  });
  if (!res.ok) throw new Error(`CA rotation: ${res.status} ${await res.text()}`);
  const after = await eventually(
    async () => {
      const now = await agent.json<Roots>('/v1/agent/connect/ca/roots');
      return now.ActiveRootID !== before.ActiveRootID && now;
    },
    { intervalMs: 10, what: 'the new root active' },
  );
  return { putAt, newRoot: after.Roots.find((root) => root.ID === after.ActiveRootID)!.RootCert };
}
