import { BlockList, isIP } from 'node:net';

/** A parsed CIDR block, e.g. `10.0.0.0/8` or `fd00::/8`. */
export interface Cidr {
  readonly text: string;
  readonly family: 4 | 6;
  readonly prefix: number;
  /** Node's own matcher for this one subnet (it parses IPv6 shorthand, embedded IPv4 tails, zones). */
  readonly block: BlockList;
}

const FAMILY = { 4: 'ipv4', 6: 'ipv6' } as const;

export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, ...rest] = text.split('/');
  if (rest.length > 0 || prefixText === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  const block = new BlockList();
  block.addSubnet(address, prefix, FAMILY[family]);
  return { text, family, prefix, block };
}

/**
 * Whether `ip` is in the block. Never across families: BlockList matches an IPv4 address against
 * IPv4-mapped IPv6 rules (and the reverse), but an interface's IPv4 address is not in `::/0` here.
 */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  if (isIP(ip) !== cidr.family) return false;
  return cidr.block.check(ip, FAMILY[cidr.family]);
}
