/**
 * SAMPLE_CONNECT=1 (`npm run sample -- --connect`): both apps run Consul Connect native. user_service
 * serves gRPC with its Connect certificate and admits callers by the intentions; user_api calls it
 * over mTLS as itself, and serves HTTPS and gRPC the same way (Connect native is per app).
 */
export const SAMPLE_CONNECT = process.env.SAMPLE_CONNECT === '1';
