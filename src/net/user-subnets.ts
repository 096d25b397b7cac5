/**
 * Subnet arithmetic for users' own networks: dcm hands out fixed-size IPv4
 * blocks from one configured range (network.user_subnets) itself, because
 * Docker's default address pools run out after ~30 bridge networks. Pure
 * functions only; the database and the engine are asked by the caller.
 */

/** An IPv4 block: first address as a 32-bit unsigned number, and prefix length. */
export interface Cidr {
  base: number;
  prefix: number;
}

const CIDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** "10.213.0.0/16" → Cidr; null when not a canonical IPv4 block (host bits must be zero). */
export function parseCidr(text: string): Cidr | null {
  const m = CIDR_RE.exec(text);
  if (!m) return null;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return null;
  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  if (base % blockSize(prefix) !== 0) return null;
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.prefix}`;
}

function formatIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Addresses in a block of this prefix length. */
function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/**
 * Containers one block can hold: all addresses but the network address, the
 * broadcast address and the gateway (the host's side of the bridge).
 */
export function containersPerBlock(prefix: number): number {
  return Math.max(0, blockSize(prefix) - 3);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + blockSize(b.prefix) && b.base < a.base + blockSize(a.prefix);
}

/**
 * The first block of `prefix` inside `pool` that overlaps none of `taken`,
 * or null when the pool is full. Lowest first, so the pool fills from its start.
 */
export function chooseSubnet(pool: Cidr, prefix: number, taken: Cidr[]): Cidr | null {
  if (prefix < pool.prefix || prefix > 30) return null;
  const step = blockSize(prefix);
  const end = pool.base + blockSize(pool.prefix);
  for (let base = pool.base; base < end; base += step) {
    const cand = { base, prefix };
    if (!taken.some((t) => overlaps(cand, t))) return cand;
  }
  return null;
}

/**
 * The host's IPv4 routes from /proc/net/route, except default routes (they
 * "overlap" everything). Destination and mask are little-endian hex there.
 */
export function parseProcRoutes(text: string): Cidr[] {
  const out: Cidr[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]!);
    const mask = leHex(f[7]!);
    if (dest === null || mask === null || mask === 0) continue;
    const prefix = 32 - Math.log2(2 ** 32 - mask);
    if (!Number.isInteger(prefix)) continue; // not a contiguous mask: ignore rather than guess
    out.push({ base: dest - (dest % blockSize(prefix)), prefix });
  }
  return out;
}

function leHex(h: string): number | null {
  if (!/^[0-9A-Fa-f]{8}$/.test(h)) return null;
  const bytes = [6, 4, 2, 0].map((i) => parseInt(h.slice(i, i + 2), 16));
  return bytes.reduce((acc, b) => acc * 256 + b, 0);
}

/**
 * Problems with network.user_subnets / user_subnet_prefix, as [field, message]:
 * the range must be a block, the per-user block must fit in it, and every
 * max_containers the policy allows must fit in one per-user block (stopped
 * containers hold no address, but all of them may run at once).
 */
export function userSubnetProblems(range: string, prefix: number, maxContainers: number): [string, string][] {
  const pool = parseCidr(range);
  if (!pool) return [['user_subnets', 'an IPv4 block such as "10.213.0.0/16" (host bits zero)']];
  if (prefix < pool.prefix) return [['user_subnet_prefix', `must be at least the range's own prefix length (/${pool.prefix})`]];
  if (containersPerBlock(prefix) < maxContainers) {
    return [
      [
        'user_subnet_prefix',
        `a /${prefix} holds ${containersPerBlock(prefix)} containers, but the policy allows a user ${maxContainers} (limits.max_containers): use a shorter prefix`,
      ],
    ];
  }
  return [];
}
