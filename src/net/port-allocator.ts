/**
 * Choosing where a new container is published: an IP alias and an SSH port
 * (which becomes the container id), plus the user's extra ports with the same
 * number on the host. Pure: the caller supplies what is taken and the cursor,
 * runs the choice inside a BEGIN IMMEDIATE transaction (storing the new
 * cursor in the same transaction), then probes the host.
 */

export interface AllocationInput {
  aliases: string[];
  sshRange: { lo: number; hi: number };
  /**
   * The SSH port handed out last (persisted by the caller), or null for none
   * yet. The search starts just after it and wraps, so a freed port (and the
   * host key that clients remember for it) goes to someone else only after
   * every other port of the range had its turn.
   */
  cursor: number | null;
  /** Container ids (SSH ports) in use anywhere: an id is unique across aliases. */
  usedIds: Set<number>;
  /** Ports already allocated on one IP. */
  usedOn: (ip: string) => Set<number>;
  extraPorts: number[];
  /** "ip:port" pairs found bound by other host processes during this create. */
  hostBusy: Set<string>;
}

export interface Allocation {
  ip: string;
  sshPort: number;
  extraPorts: number[];
}

export type AllocationFailure = { reason: 'ports-taken'; ports: number[] } | { reason: 'ssh-range-full' };

/**
 * The SSH ports of the range in the order they are tried: from just after the
 * cursor up to the top, then from the bottom up to the cursor itself. A cursor
 * outside the range (the admin changed it) starts at the bottom.
 */
export function sshPortOrder(range: { lo: number; hi: number }, cursor: number | null): number[] {
  const start = cursor !== null && cursor >= range.lo && cursor < range.hi ? cursor + 1 : range.lo;
  const order: number[] = [];
  for (let p = start; p <= range.hi; p++) order.push(p);
  for (let p = range.lo; p < start; p++) order.push(p);
  return order;
}

/**
 * The paper's rule, with ports handed out round the range: take the first
 * alias on which none of the requested extra ports is taken, then the first
 * free SSH port on it after the cursor.
 */
export function chooseAllocation(input: AllocationInput): Allocation | AllocationFailure {
  let sawFreeExtras = false;
  for (const ip of input.aliases) {
    const used = input.usedOn(ip);
    const free = (p: number) => !used.has(p) && !input.hostBusy.has(`${ip}:${p}`);
    if (!input.extraPorts.every(free)) continue;
    sawFreeExtras = true;
    for (const p of sshPortOrder(input.sshRange, input.cursor)) {
      if (input.usedIds.has(p) || !free(p) || input.extraPorts.includes(p)) continue;
      return { ip, sshPort: p, extraPorts: [...input.extraPorts] };
    }
  }
  if (!sawFreeExtras) return { reason: 'ports-taken', ports: input.extraPorts };
  return { reason: 'ssh-range-full' };
}
