import { cidrContains, parseCidr } from './cidr.js';

const contains = (cidr: string, ip: string) => cidrContains(parseCidr(cidr)!, ip);

describe('CIDR matching', () => {
  it.each(['10.0.0.0/8', '127.0.0.0/8', '0.0.0.0/0', '192.168.1.7/32', 'fd00::/8', '::/0', '2001:db8::/32'])(
    'parses %s',
    (text) => {
      expect(parseCidr(text)?.text).toBe(text);
    },
  );

  it.each(['10.0.0.0/33', 'fd00::/129', 'nope/8', '1.2.3.4', '1.2.3.4/x', '1.2.3.4/8/9'])('rejects %s', (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });

  it('matches IPv4 on byte and non-byte boundaries', () => {
    expect(contains('10.0.0.0/8', '10.200.3.4')).toBe(true);
    expect(contains('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(contains('0.0.0.0/0', '8.8.8.8')).toBe(true);
    expect(contains('172.16.0.0/12', '172.31.255.255')).toBe(true);
    expect(contains('172.16.0.0/12', '172.32.0.0')).toBe(false);
    expect(contains('192.168.16.0/20', '192.168.31.1')).toBe(true);
    expect(contains('192.168.16.0/20', '192.168.32.1')).toBe(false);
    expect(contains('192.168.1.7/32', '192.168.1.7')).toBe(true);
    expect(contains('192.168.1.7/32', '192.168.1.8')).toBe(false);
  });

  it('matches IPv6, including an embedded IPv4 tail, and never across families', () => {
    expect(contains('fd00::/8', 'fd12:3456::1')).toBe(true);
    expect(contains('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(contains('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(contains('::ffff:0:0/96', '::ffff:10.1.2.3')).toBe(true);
    expect(contains('10.0.0.0/8', 'fd00::1')).toBe(false);
    expect(contains('fd00::/8', '10.0.0.1')).toBe(false);
  });

  it('expands IPv6 shorthand', () => {
    expect(contains('::/128', '0:0:0:0:0:0:0:0')).toBe(true);
    expect(contains('::1/128', '0:0:0:0:0:0:0:1')).toBe(true);
    expect(contains('::1/128', '::2')).toBe(false);
    expect(contains('1::/128', '1:0:0:0:0:0:0:0')).toBe(true);
    expect(contains('2001:db8::1/128', '2001:0db8:0000:0000:0000:0000:0000:0001')).toBe(true);
    expect(contains('::/0', '10.0.0.1')).toBe(false);
    expect(contains('10.0.0.0/8', 'not-an-ip')).toBe(false);
    expect(parseCidr('not-an-ip/8')).toBeUndefined();
  });
});
