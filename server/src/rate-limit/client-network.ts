// The key of every per-IP limit (and of the hashed IP kept with usage). An IPv6
// client is keyed by its /64: a subscriber or a cloud server gets at least a /64
// and can use any of its 2^64 addresses, so keying the full address would give
// one client a fresh limit per request. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4 client) is that
// IPv4 address. Anything else (e.g. "unknown") is kept as it is.
import { isIPv4, isIPv6 } from 'node:net';

export function clientNetwork(ip: string): string {
  const address = ip.trim();
  if (isIPv4(address)) return address;
  // A zone (fe80::1%eth0) names an interface of this host, not a different client.
  const bare = address.replace(/%.*$/, '');
  if (!isIPv6(bare)) return address;
  const groups = expandIPv6(bare);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (checked by the caller), a trailing dotted IPv4 included. */
function expandIPv6(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
