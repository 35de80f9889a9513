/**
 * Every metric this package reports, in one place: the README table is written from this list,
 * and a test checks that nothing else is reported. Names follow the OpenTelemetry semantic
 * conventions where one exists (`http.client.request.duration`); the rest live under `consul.`.
 * No attribute ever carries a request path, a KV key or value, or a token.
 */
export const INSTRUMENTS = {
  registrationState: {
    name: 'consul.registration.state',
    unit: '{state}',
    description: 'This instance’s registration state: 1 for the current state, 0 for every other',
  },
  reregistrations: {
    name: 'consul.registration.reregistrations',
    unit: '{registration}',
    description:
      'Registrations after the instance had been registered before (the agent lost it, or a manual deregister/register)',
  },
  heartbeatFailures: {
    name: 'consul.registration.heartbeat.failures',
    unit: '{failure}',
    description: 'TTL heartbeats Consul did not accept (errors and unreachable agent)',
  },
  instances: {
    name: 'consul.discovery.instances',
    unit: '{instance}',
    description: 'Instances in the latest answer of each discovery watch',
  },
  watchRequests: {
    name: 'consul.watch.requests',
    unit: '{request}',
    description: 'Blocking queries sent by each watch',
  },
  watchErrors: {
    name: 'consul.watch.errors',
    unit: '{error}',
    description: 'Blocking queries of each watch that failed (the last good answer is kept)',
  },
  watchStaleness: {
    name: 'consul.watch.staleness',
    unit: 's',
    description: 'Seconds since each watch last heard from Consul (since it started, before the first answer)',
  },
  httpDuration: {
    name: 'http.client.request.duration',
    unit: 's',
    description: 'Duration of each HTTP attempt of the typed clients, per instance',
  },
  clientRetries: {
    name: 'consul.client.retries',
    unit: '{retry}',
    description: 'Attempts of the typed HTTP clients after the first one of a request, on another instance',
  },
  outlierEjections: {
    name: 'consul.client.outlier.ejections',
    unit: '{ejection}',
    description: 'Instances a typed HTTP client stopped calling for the cooldown after consecutive transport failures',
  },
  noAvailableInstance: {
    name: 'consul.discovery.no_available_instance',
    unit: '{error}',
    description: 'NoAvailableInstanceError thrown: a lookup found no instance (in any datacenter tried)',
  },
  configReloads: {
    name: 'consul.config.reloads',
    unit: '{reload}',
    description: 'Changes of a configuration context seen in KV: applied, or refused (did not parse or validate)',
  },
  leadership: {
    name: 'consul.leader.leading',
    unit: '{election}',
    description: '1 while this instance leads the election, 0 while it campaigns',
  },
  sessionRenewalFailures: {
    name: 'consul.session.renewal.failures',
    unit: '{failure}',
    description: 'Renewals of the lock session that failed (the holder steps down before Consul may expire it)',
  },
} as const;

/** Attribute keys, semantic-convention ones first. */
export const ATTR = {
  serverAddress: 'server.address',
  serverPort: 'server.port',
  method: 'http.request.method',
  statusCode: 'http.response.status_code',
  errorType: 'error.type',
  service: 'consul.service',
  datacenter: 'consul.datacenter',
  watchKind: 'consul.watch.kind',
  watchQuery: 'consul.watch.query',
  state: 'consul.registration.state',
  instanceId: 'consul.instance.id',
  context: 'consul.config.context',
  outcome: 'consul.config.outcome',
  election: 'consul.leader.election',
  attempt: 'consul.client.attempt',
  retries: 'consul.client.retries',
} as const;
