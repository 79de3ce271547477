// --trusted-proxies: the peers (addresses or CIDR ranges) whose X-Forwarded-Host/-Proto/-Prefix headers are believed.
// Parsing is pure and throws on a bad entry (the CLI turns that into a usage error); the check is net.BlockList.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export type TrustCheck = (peer: string | undefined) => boolean;

interface Range {
  family: 'ipv4' | 'ipv6';
  address: string;
  prefix: number;
}

function parseEntry(entry: string): Range {
  const [address = '', bits, extra] = entry.split('/');
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!family || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
    throw new Error(`'${entry}' is not an IP address or CIDR range (e.g. 10.0.0.0/8, 127.0.0.1, fd00::/8)`);
  }
  return { family, address, prefix };
}

/** Comma-separated addresses and CIDR ranges; empty means trust nobody. */
export function parseTrustedProxies(value: string): string[] {
  const entries = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const entry of entries) parseEntry(entry);
  return entries;
}

/** Whether a socket peer address is one of the trusted proxies (IPv4-mapped IPv6 peers count as IPv4). */
export function trustCheck(entries: readonly string[]): TrustCheck {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const { family, address, prefix } of entries.map(parseEntry)) list.addSubnet(address, prefix, family);
  return (peer) => {
    if (!peer) return false;
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer)?.[1];
    if (v4) return list.check(v4, 'ipv4');
    return isIPv4(peer) ? list.check(peer, 'ipv4') : isIPv6(peer) && list.check(peer, 'ipv6');
  };
}
