import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * CIDR allowlist. Addresses are normalised first, so `::ffff:194.187.247.152` is the IPv4
 * caller 194.187.247.152 and matches a v4 range.
 */
/** Answers remembered at most (callers are a handful of Kaspi addresses; a flood of others only resets it). */
const MAX_REMEMBERED = 1024;

export class IpAllowlist {
  private readonly ranges: Range[];
  /** The answer per caller address, so a request does not parse and match the same address again. */
  private readonly remembered = new Map<string, boolean>();

  constructor(cidrs: string) {
    this.ranges = cidrs
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((c) => IpAllowlist.parseRange(c));
  }

  static parseRange(cidr: string): Range {
    if (cidr.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(cidr);
      return [
        normalise(addr),
        addr.kind() === 'ipv6' && normalise(addr).kind() === 'ipv4' ? bits - 96 : bits,
      ];
    }
    const addr = normalise(ipaddr.parse(cidr));
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  }

  /** Throws with the offending entry, so a bad KASPI_ALLOWED_IPS stops the start. */
  static validate(cidrs: string): string | null {
    for (const c of cidrs
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      try {
        IpAllowlist.parseRange(c);
      } catch {
        return c;
      }
    }
    return null;
  }

  allows(ip: string | undefined): boolean {
    if (!ip) return false;
    let ok = this.remembered.get(ip);
    if (ok === undefined) {
      ok = this.match(ip);
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
      this.remembered.set(ip, ok);
    }
    return ok;
  }

  private match(ip: string): boolean {
    if (!ipaddr.isValid(ip)) return false;
    const addr = normalise(ipaddr.parse(ip));
    return this.ranges.some(
      ([range, bits]) => range.kind() === addr.kind() && addr.match([range, bits] as never),
    );
  }
}

function normalise(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress())
    return (addr as ipaddr.IPv6).toIPv4Address();
  return addr;
}

/** TRUST_PROXY as Express wants it: false unless an operator named the proxy. */
export function trustProxySetting(v: string): boolean | number | string {
  const s = v.trim().toLowerCase();
  if (s === '' || s === 'false' || s === '0' || s === 'no') return false;
  if (s === 'true') return true;
  if (/^\d+$/.test(s)) return Number(s);
  return v;
}
