import { ConsulKitError } from '../common/consul-kit.error.js';
/** Thrown at bootstrap with `registration.failFast: true` when Consul cannot be used. */
export class ConsulUnavailableError extends ConsulKitError {
  override readonly name = 'ConsulUnavailableError';

  constructor(agent: string, cause: string) {
    super(
      `Consul at ${agent} is not usable: ${cause}. ` +
        'Check consul.host / consul.port (and consul.token with ACLs), or set registration.failFast: false to boot anyway and register once Consul is back.',
    );
  }
}
