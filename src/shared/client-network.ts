import { isIP } from 'node:net';

/**
 * The key a client is counted under (connection caps, login throttling, download windows): its
 * IPv4 address, or the /64 network of an IPv6 address (one subscriber usually holds a whole /64,
 * so counting single addresses would let it rotate through them). IPv4-mapped IPv6 addresses
 * count as their IPv4 address; a zone (`%eth0`) is dropped. Anything that is not an address is
 * its own key; no address at all is `unknown`.
 */
export function clientNetwork(ip: string | undefined): string {
  if (ip === undefined || ip === '') return 'unknown';
  if (isIP(ip) === 4) return ip;
  const address = ip.split('%')[0]!;
  if (isIP(address) !== 6) return ip;
  // The URL parser writes an IPv6 address in its one canonical form (RFC 5952).
  const canonical = new URL(`http://[${address}]`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const [hi, lo] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)];
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  const [head = '', tail] = canonical.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const network = [...groups.slice(0, 4), '0', '0', '0', '0'].join(':');
  return `${new URL(`http://[${network}]`).hostname.slice(1, -1)}/64`;
}
