/** Injection token of the validated, defaulted module options. */
export const CONSUL_RESOLVED_OPTIONS = 'CONSUL:RESOLVED_OPTIONS';

/** Logger context names, one per component, so logs can be filtered. */
export const LOG_CONTEXT = {
  registrar: 'ConsulRegistrar',
  api: 'ConsulApi',
  health: 'ConsulHealth',
  discovery: 'ConsulDiscovery',
  config: 'ConsulConfig',
  locks: 'ConsulLocks',
  connect: 'ConsulConnect',
} as const;

/** Injection token of this app's instance as registered (see `ConsulInstanceIdentity`): what locks tie to. */
export const CONSUL_INSTANCE_IDENTITY = 'CONSUL:INSTANCE_IDENTITY';
