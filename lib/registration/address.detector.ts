import { ConsulKitError } from '../common/consul-kit.error.js';
import { createSocket } from 'node:dgram';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { cidrContains } from '../options/cidr.js';

export type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** Where the detector gets its facts; tests inject both. */
export interface AddressSources {
  interfaces(): InterfaceTable;
  /** The local address the OS would route `family` traffic out of, or undefined. */
  routedAddress(family: 4 | 6): Promise<string | undefined>;
}

export class AddressDetectionError extends ConsulKitError {
  override readonly name = 'AddressDetectionError';
}

/**
 * Picks the address to register, in this order: the named `interface`; the first address in
 * `preferredNetworks` (CIDR order); the address the OS routes outbound traffic from (the
 * tutorial's UDP trick); the first non-internal address; loopback as a last resort.
 */
export async function detectAddress(
  options: ResolvedConsulOptions['address'],
  sources: AddressSources = systemAddressSources,
): Promise<{ address: string; how: string }> {
  const family = `IPv${options.family}`;
  const table = sources.interfaces();
  const all = Object.entries(table).flatMap(([name, infos]) =>
    (infos ?? []).filter((info) => info.family === family).map((info) => ({ name, ...info })),
  );

  if (options.interface) {
    const match = all.find((info) => info.name === options.interface);
    if (match) return { address: match.address, how: `interface ${options.interface}` };
    const names = Object.keys(table).join(', ') || 'none';
    throw new AddressDetectionError(
      `address.interface: interface "${options.interface}" has no ${family} address (interfaces: ${names}); ` +
        'name another interface, change address.family, or set service.address',
    );
  }

  for (const cidr of options.preferredNetworks) {
    const match = all.find((info) => cidrContains(cidr, info.address));
    if (match) return { address: match.address, how: `preferred network ${cidr.text} (${match.name})` };
  }
  if (options.preferredNetworks.length > 0) {
    throw new AddressDetectionError(
      `address.preferredNetworks: no ${family} address of this host is in ${options.preferredNetworks
        .map((c) => c.text)
        .join(', ')} (addresses: ${all.map((a) => a.address).join(', ') || 'none'}); ` +
        'add a matching network, or set service.address',
    );
  }

  const routed = await sources.routedAddress(options.family);
  if (routed && all.some((info) => info.address === routed && !info.internal)) {
    return { address: routed, how: 'default route' };
  }
  const external = all.find((info) => !info.internal);
  if (external) return { address: external.address, how: `first external address (${external.name})` };
  return { address: options.family === 6 ? '::1' : '127.0.0.1', how: 'loopback: no external address found' };
}

// A public address to "connect" a UDP socket to. connect() on UDP only asks the kernel for
// a route and binds the local address: no packet leaves the machine.
const ROUTE_PROBE = { 4: '192.0.2.1', 6: '2001:db8::1' } as const;

export const systemAddressSources: AddressSources = {
  interfaces: () => networkInterfaces(),
  routedAddress: (family) =>
    new Promise((resolve) => {
      const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
      const done = (address?: string) => {
        socket.close();
        resolve(address);
      };
      socket.once('error', () => done());
      try {
        socket.connect(9, ROUTE_PROBE[family], () => {
          try {
            done(socket.address().address);
          } catch {
            done();
          }
        });
      } catch {
        done();
      }
    }),
};
