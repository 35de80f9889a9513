/**
 * Why a Connect server refuses a caller's certificate, in the same words over HTTP and gRPC, so a
 * refusal reads the same whichever gate wrote it.
 */

export const NO_SPIFFE_ID = 'the client certificate names no SPIFFE id';

/** Why a presented certificate is not trusted, from an OpenSSL verification code (Node's `authorizationError`). */
export function untrusted(code: string): string {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return 'the client certificate has expired; its agent must renew it (is the agent reachable?)';
    case 'CERT_NOT_YET_VALID':
      return "the client certificate is not valid yet (check the caller's clock)";
    default:
      return `the client certificate is not from this mesh's CA (${code})`;
  }
}
