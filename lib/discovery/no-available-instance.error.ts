import { ConsulKitError } from '../common/consul-kit.error.js';
/** No instance of a service can take a call right now: none registered, none passing, or none with the tags. */
export class NoAvailableInstanceError extends ConsulKitError {
  override readonly name = 'NoAvailableInstanceError';

  constructor(
    readonly service: string,
    /** Datacenters tried, in order (`local` for the agent's own). */
    readonly datacenters: readonly string[],
    readonly tags: readonly string[] = [],
  ) {
    super(
      `No available instance of service "${service}" in ${datacenters.join(', ')}` +
        `${tags.length ? ` with tags ${tags.join(', ')}` : ''}: none is registered and passing its checks`,
    );
  }
}
