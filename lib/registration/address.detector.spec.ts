import type { NetworkInterfaceInfo } from 'node:os';
import { type AddressSources, AddressDetectionError, detectAddress } from './address.detector.js';
import { parseCidr } from '../options/cidr.js';

const v4 = (address: string, internal = false) => ({ address, family: 'IPv4', internal }) as NetworkInterfaceInfo;
const v6 = (address: string, internal = false) => ({ address, family: 'IPv6', internal }) as NetworkInterfaceInfo;

const TABLE = {
  lo: [v4('127.0.0.1', true), v6('::1', true)],
  eth0: [v4('10.1.2.3'), v6('fd00::3')],
  docker0: [v4('172.17.0.1')],
};

/** Injected facts: no socket is opened and nothing is sent by these tests. */
const sources = (
  routed?: string,
  table: AddressSources extends { interfaces(): infer T } ? T : never = TABLE,
): AddressSources => ({
  interfaces: () => table,
  routedAddress: async () => routed,
});
const options = (extra: { interface?: string; preferredNetworks?: string[]; family?: 4 | 6 } = {}) => ({
  interface: extra.interface,
  preferredNetworks: (extra.preferredNetworks ?? []).map((text) => parseCidr(text)!),
  family: extra.family ?? 4,
});

describe('detectAddress', () => {
  it('takes the named interface', async () => {
    expect(await detectAddress(options({ interface: 'docker0' }), sources())).toEqual({
      address: '172.17.0.1',
      how: 'interface docker0',
    });
    expect((await detectAddress(options({ interface: 'eth0', family: 6 }), sources())).address).toBe('fd00::3');
  });

  it('names address.interface and lists the interfaces when it has no address', async () => {
    const error = await detectAddress(options({ interface: 'wlan0' }), sources()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AddressDetectionError);
    expect((error as Error).message).toContain(
      'address.interface: interface "wlan0" has no IPv4 address (interfaces: lo, eth0, docker0)',
    );
  });

  it('prefers networks in the order given, loopback included when listed', async () => {
    expect(
      (await detectAddress(options({ preferredNetworks: ['172.16.0.0/12', '10.0.0.0/8'] }), sources())).address,
    ).toBe('172.17.0.1');
    expect((await detectAddress(options({ preferredNetworks: ['127.0.0.0/8'] }), sources())).address).toBe('127.0.0.1');
  });

  it('names address.preferredNetworks when nothing matches', async () => {
    const error = await detectAddress(options({ preferredNetworks: ['192.168.0.0/16'] }), sources()).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain(
      'address.preferredNetworks: no IPv4 address of this host is in 192.168.0.0/16',
    );
  });

  it('uses the routed address when it belongs to an external interface', async () => {
    expect(await detectAddress(options(), sources('172.17.0.1'))).toEqual({
      address: '172.17.0.1',
      how: 'default route',
    });
  });

  it('ignores a routed address that is on no interface, and takes the first external one', async () => {
    expect(await detectAddress(options(), sources('203.0.113.9'))).toEqual({
      address: '10.1.2.3',
      how: 'first external address (eth0)',
    });
  });

  it('falls back to loopback when there is nothing else', async () => {
    const onlyLoopback = { lo: [v4('127.0.0.1', true)] };
    expect((await detectAddress(options(), sources(undefined, onlyLoopback))).address).toBe('127.0.0.1');
  });
});
