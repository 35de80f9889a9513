import { hostPort } from './host-port.js';
/** Health of an instance, the worst of its checks (Consul's aggregated status). */
export type InstanceStatus = 'passing' | 'warning' | 'critical' | 'maintenance';

/** One discovered instance of a service, as the rest of the library and the app see it. */
export interface ServiceInstance {
  /** Consul service id, unique per agent. */
  readonly id: string;
  /** Service name. */
  readonly service: string;
  /** Where to connect: the service address, else the node's (the WAN tagged address across datacenters). */
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly weights: { readonly passing: number; readonly warning: number };
  /** Datacenter the instance lives in. */
  readonly dc: string;
  /** Node (agent) name the instance is registered on. */
  readonly node: string;
  readonly status: InstanceStatus;
}

/** `host:port`, bracketing IPv6 hosts. */
export function instanceTarget(instance: Pick<ServiceInstance, 'address' | 'port'>): string {
  return hostPort(instance.address, instance.port);
}
