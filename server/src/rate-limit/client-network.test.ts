import { describe, expect, it } from 'vitest';
import { clientNetwork } from './client-network.ts';

describe('clientNetwork', () => {
  it('keeps an IPv4 address', () => {
    expect(clientNetwork('203.0.113.9')).toBe('203.0.113.9');
    expect(clientNetwork(' 10.0.0.1 ')).toBe('10.0.0.1');
  });

  it('keys every address of an IPv6 /64 alike, however it is written', () => {
    const key = '2001:db8:a:b::/64';
    for (const ip of ['2001:db8:a:b::1', '2001:db8:a:b:ffff:ffff:ffff:ffff', '2001:0DB8:000A:000B:0:0:0:2', '2001:db8:a:b::1.2.3.4', '2001:db8:a:b::9%eth0']) {
      expect(clientNetwork(ip), ip).toBe(key);
    }
    expect(clientNetwork('2001:db8:a:c::1')).toBe('2001:db8:a:c::/64');
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
    expect(clientNetwork('2001:db8::')).toBe('2001:db8:0:0::/64');
  });

  it('turns an IPv4-mapped IPv6 address into the IPv4 address', () => {
    expect(clientNetwork('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(clientNetwork('::FFFF:c633:6407')).toBe('198.51.100.7');
    expect(clientNetwork('0:0:0:0:0:ffff:127.0.0.1')).toBe('127.0.0.1');
  });

  it('leaves anything that is not an address alone', () => {
    expect(clientNetwork('unknown')).toBe('unknown');
    expect(clientNetwork('')).toBe('');
    expect(clientNetwork('2001:db8::g')).toBe('2001:db8::g');
  });
});
