import { hostPort } from '../common/host-port.js';
import type { SectionKeys, Validator } from './validator.js';

/** How to reach the Consul agent. */
export interface ConsulConnectionOptions {
  /** Agent host: an IP address or a name (`localhost`, `consul`). @default "127.0.0.1" */
  host?: string;
  /** Agent HTTP(S) port. @default 8500 */
  port?: number;
  /** Use HTTPS. @default false */
  secure?: boolean;
  /** ACL token, sent as `X-Consul-Token` on every call; never logged. */
  token?: string;
  /** CA certificate(s) that sign the agent's HTTPS certificate (PEM). */
  ca?: string | Buffer;
  /** Client certificate (PEM), for agents that verify incoming HTTPS. */
  cert?: string | Buffer;
  /** Client key (PEM) for `cert`. */
  key?: string | Buffer;
  /** Timeout of every non-blocking request, and the bound of the whole shutdown, e.g. `"5s"`. @default "5s" */
  timeout?: string;
}

const KEYS: SectionKeys<ConsulConnectionOptions> = {
  host: true,
  port: true,
  secure: true,
  token: true,
  ca: true,
  cert: true,
  key: true,
  timeout: true,
};

/** `consul`: how to reach the agent. */
export function resolveConnectionOptions(parent: Validator, raw: unknown) {
  const v = parent.at('consul');
  const consul = parent.section<ConsulConnectionOptions>(raw, 'consul', KEYS);
  const secure = v.boolean(consul.secure, 'secure', false);
  const host = v.string(consul.host, 'host') ?? '127.0.0.1';
  const port = v.port(consul.port, 'port') ?? 8500;
  if (consul.token !== undefined && (typeof consul.token !== 'string' || consul.token === '')) {
    // Never echo the value: it is a secret.
    v.fail('token', 'must be a non-empty string', 'pass the ACL token as a string, or leave it out');
  }
  const [ca, cert, key] = (['ca', 'cert', 'key'] as const).map((name) => v.pem(consul[name], name));
  if ((consul.cert === undefined) !== (consul.key === undefined)) {
    v.fail(consul.cert === undefined ? 'cert' : 'key', 'consul.cert and consul.key go together', 'set both or neither');
  }
  return {
    host,
    port,
    secure,
    token: typeof consul.token === 'string' && consul.token !== '' ? (consul.token as string) : undefined,
    ca,
    cert,
    key,
    timeoutMs: v.duration(consul.timeout, 'timeout', '5s', { positive: true }),
    /** `http(s)://host:port`, for messages (never carries the token). */
    address: `${secure ? 'https' : 'http'}://${hostPort(host, port)}`,
  };
}

export type ResolvedConnectionOptions = ReturnType<typeof resolveConnectionOptions>;
