import { type Cidr, parseCidr } from './cidr.js';
import { describe, type SectionKeys, type Validator } from './validator.js';

/** How to pick the registered address when `service.address` is not set. */
export interface ConsulAddressOptions {
  /** CIDRs to pick from, in order of preference, e.g. `["10.0.0.0/8"]`. Loopback is allowed only if listed here. */
  preferredNetworks?: string[];
  /** Network interface to take the address from, e.g. `"eth0"`. */
  interface?: string;
  /** IP family. @default 4 */
  family?: 4 | 6;
}

const KEYS: SectionKeys<ConsulAddressOptions> = { preferredNetworks: true, interface: true, family: true };

/** `address`: the rules that choose the registered address. */
export function resolveAddressOptions(parent: Validator, raw: unknown) {
  const v = parent.at('address');
  const address = parent.section<ConsulAddressOptions>(raw, 'address', KEYS);
  const family = address.family ?? 4;
  if (family !== 4 && family !== 6) v.fail('family', `${describe(address.family)} is not 4 or 6`);
  return {
    preferredNetworks: cidrs(v, address.preferredNetworks),
    interface: v.string(address.interface, 'interface'),
    family: (family === 6 ? 6 : 4) as 4 | 6,
  };
}

export type ResolvedAddressOptions = ReturnType<typeof resolveAddressOptions>;

function cidrs(v: Validator, value: unknown): Cidr[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    v.fail('preferredNetworks', `expected an array of CIDRs, got ${describe(value)}`);
    return [];
  }
  return value.flatMap((text, i) => {
    const cidr = typeof text === 'string' ? parseCidr(text) : undefined;
    if (!cidr)
      v.fail(`preferredNetworks[${i}]`, `${describe(text)} is not a CIDR`, 'write it like "10.0.0.0/8" or "fd00::/8"');
    return cidr ? [cidr] : [];
  });
}
