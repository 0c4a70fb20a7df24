// What ChatMeter keeps of a client address in the sessions table: the network
// only, an IPv4 /24 or an IPv6 /48 with the rest zeroed, written in CIDR form
// ("203.0.113.0/24", "2001:db8:abcd::/48"). Enough to recognise "my home" or "my
// office" in the sessions list, not enough to point at one machine. Migration
// 20261204050000_session_ip_network rewrote older rows with the same rule in SQL.
import { isIPv4, isIPv6 } from 'node:net';

/** The /24 or /48 network of an address, or null when it is not an IP address. */
export function coarseIp(ip: string | null | undefined): string | null {
  if (!ip) return null;
  let address = ip.trim();
  // A zone id (fe80::1%eth0) names an interface of this host, not the client.
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  if (isIPv4(address)) {
    const [a, b, c] = address.split('.').map(Number);
    return `${a}.${b}.${c}.0/24`;
  }
  if (!isIPv6(address)) return null;
  const groups = expandIPv6(address);
  // An IPv4-mapped address (::ffff:a.b.c.d, how a dual-stack socket reports IPv4 clients) is IPv4.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.0/24`;
  }
  const kept = [...groups.slice(0, 3), 0, 0, 0, 0, 0];
  return `${compressIPv6(kept)}/48`;
}

/** Eight 16-bit groups; an embedded IPv4 tail becomes the last two. */
function expandIPv6(address: string): number[] {
  let text = address.toLowerCase();
  const v4 = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  const all = tail === undefined ? left : [...left, ...Array<string>(missing).fill('0'), ...right];
  return all.map((group) => parseInt(group, 16));
}

/** RFC 5952 text: lower-case hex, the first longest run of two or more zero groups as "::". */
function compressIPv6(groups: number[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}
