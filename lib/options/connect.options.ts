import type { SectionKeys, Validator } from './validator.js';

/** Consul Connect native: mTLS between apps with certificates the agent issues, no sidecar. */
export interface ConsulConnectOptions {
  /**
   * Serve over Connect native mTLS: the service (and every microservice) is registered with
   * `Connect: { Native: true }`, follows its leaf certificate and the CA roots, and admits only
   * callers whose certificate the intentions allow. Create the HTTP app with
   * `httpsOptions: consulConnectHttpsOptions()`. @default false
   */
  native?: boolean;
}

const CONNECT_KEYS: SectionKeys<ConsulConnectOptions> = { native: true };

/** `connect`. A leaf certificate is issued to a service name, so Connect needs a registered service. */
export function resolveConnectOptions(parent: Validator, raw: unknown, hasService: boolean) {
  if (raw === undefined) return { native: false };
  const connect = parent.section<ConsulConnectOptions>(raw, 'connect', CONNECT_KEYS);
  const native = parent.at('connect').boolean(connect.native, 'native', false);
  if (native && !hasService) {
    parent.fail(
      'connect',
      'needs `service`: Consul issues the certificate to a service name',
      'add service: { name: "my_service" } or leave connect out',
    );
  }
  return { native };
}

export type ResolvedConnectOptions = ReturnType<typeof resolveConnectOptions>;
