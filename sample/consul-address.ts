/** CONSUL_HTTP_ADDR, as Consul's own CLI reads it: "127.0.0.1:8500" or "http://127.0.0.1:8500". */
export function consulFromEnv() {
  const url = new URL((process.env.CONSUL_HTTP_ADDR ?? '127.0.0.1:8500').replace(/^(?!https?:\/\/)/, 'http://'));
  return {
    host: url.hostname,
    port: Number(url.port || 8500),
    secure: url.protocol === 'https:',
    token: process.env.CONSUL_HTTP_TOKEN || undefined,
  };
}
