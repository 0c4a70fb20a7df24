import { describe, expect, it } from 'vitest';
import { coarseIp } from './ip.ts';

describe('coarseIp', () => {
  it('keeps the IPv4 /24 with the host part zeroed', () => {
    expect(coarseIp('203.0.113.77')).toBe('203.0.113.0/24');
    expect(coarseIp('10.0.0.1')).toBe('10.0.0.0/24');
    expect(coarseIp(' 127.0.0.1 ')).toBe('127.0.0.0/24');
  });

  it('treats an IPv4-mapped IPv6 address as IPv4', () => {
    expect(coarseIp('::ffff:198.51.100.23')).toBe('198.51.100.0/24');
    expect(coarseIp('::FFFF:198.51.100.23')).toBe('198.51.100.0/24');
    expect(coarseIp('0:0:0:0:0:ffff:c633:6417')).toBe('198.51.100.0/24');
  });

  it('keeps the IPv6 /48 with the rest zeroed, in RFC 5952 text', () => {
    expect(coarseIp('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48');
    expect(coarseIp('2001:0DB8:ABCD:0012:0000:0000:0000:0001')).toBe('2001:db8:abcd::/48');
    expect(coarseIp('2001:0:0:1::1')).toBe('2001::/48');
    expect(coarseIp('2001:db8:0:1::')).toBe('2001:db8::/48');
    expect(coarseIp('1:2:3:4:5:6:7:8')).toBe('1:2:3::/48');
    expect(coarseIp('0:1:0::5')).toBe('0:1::/48');
    expect(coarseIp('0:0:1::')).toBe('0:0:1::/48');
    expect(coarseIp('::1')).toBe('::/48');
    expect(coarseIp('fe80::1%eth0')).toBe('fe80::/48');
    expect(coarseIp('64:ff9b::192.0.2.33')).toBe('64:ff9b::/48');
  });

  it('gives null for anything that is not an address', () => {
    for (const value of [undefined, null, '', 'unknown', '10.1.2.3/8', '256.1.1.1', '1.2.3', 'fe80::zz', '2001:db8::1::2']) {
      expect(coarseIp(value)).toBeNull();
    }
  });
});
