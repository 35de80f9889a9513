import type { PeerCertificate } from 'node:tls';

/** A Connect service identity: `spiffe://<trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>`. */
export interface ServiceIdentity {
  trustDomain: string;
  namespace: string;
  datacenter: string;
  service: string;
}

const SERVICE_ID = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/dc\/([^/]+)\/svc\/([^/]+)$/;

/** The service identity a SPIFFE URI names, or `undefined` when it names none (an agent's, a CA's, garbage). */
export function parseServiceIdentity(uri: string): ServiceIdentity | undefined {
  const match = SERVICE_ID.exec(uri);
  if (!match) return undefined;
  const [, trustDomain, namespace, datacenter, service] = match.map((part) => safeDecode(part));
  if ([trustDomain, namespace, datacenter, service].some((part) => part === undefined)) return undefined;
  return { trustDomain: trustDomain!.toLowerCase(), namespace: namespace!, datacenter: datacenter!, service: service! };
}

/** The SPIFFE URI among a certificate's subject alternative names (Connect puts exactly one there). */
export function spiffeUriOf(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string | undefined {
  // Node joins the names with ", " and prefixes each with its kind; a URI holding ", " would be
  // quoted, which Consul's never are.
  const names = cert?.subjectaltname?.split(', ') ?? [];
  const uri = names.find((name) => name.startsWith('URI:spiffe://'));
  return uri?.slice('URI:'.length);
}

/** Whether two identities name the same service in the same mesh (any datacenter of it). */
export function sameService(a: ServiceIdentity, b: Pick<ServiceIdentity, 'trustDomain' | 'service'>): boolean {
  return a.trustDomain === b.trustDomain.toLowerCase() && a.namespace === 'default' && a.service === b.service;
}

function safeDecode(part: string | undefined): string | undefined {
  if (part === undefined) return undefined;
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
