import type { AgentCheckDefinition } from '../consul-api/consul-api.types.js';

/**
 * This app's main instance as Consul knows it: what sessions and locks tie to, and nothing more.
 * The registrar implements it and provides it as `CONSUL_INSTANCE_IDENTITY`, so the locks depend
 * on this contract, not on the registration layer.
 */
export interface ConsulInstanceIdentity {
  /** The registered instance id, once the app's port is known. */
  readonly instanceId: string | undefined;
  /** The registered `address:port`, once known. */
  readonly instanceAddress: string | undefined;
  /** The id of the instance's health check in Consul, once registered with one. */
  readonly checkId: string | undefined;
  /** Whether Consul has (as far as we last saw) the instance registered. */
  readonly isRegistered: boolean;
  /** Resolves once the instance is registered (at once if it already is). */
  whenRegistered(): Promise<void>;
  /** Adds a check to the instance's registration, now and in every later one. */
  attachCheck(check: AgentCheckDefinition & { CheckID: string }): Promise<void>;
}
