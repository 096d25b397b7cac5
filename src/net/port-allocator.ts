/**
 * Choosing where a new container is published: an IP alias and an SSH port
 * (which becomes the container id), plus the user's extra ports with the same
 * number on the host. Pure: the caller supplies what is taken and runs the
 * choice inside a BEGIN IMMEDIATE transaction, then probes the host.
 */

export interface AllocationInput {
  aliases: string[];
  sshRange: { lo: number; hi: number };
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
 * The paper's rule: take the first alias on which none of the requested extra
 * ports is taken, then the lowest free SSH port on it.
 */
export function chooseAllocation(input: AllocationInput): Allocation | AllocationFailure {
  let sawFreeExtras = false;
  for (const ip of input.aliases) {
    const used = input.usedOn(ip);
    const free = (p: number) => !used.has(p) && !input.hostBusy.has(`${ip}:${p}`);
    if (!input.extraPorts.every(free)) continue;
    sawFreeExtras = true;
    for (let p = input.sshRange.lo; p <= input.sshRange.hi; p++) {
      if (input.usedIds.has(p) || !free(p) || input.extraPorts.includes(p)) continue;
      return { ip, sshPort: p, extraPorts: [...input.extraPorts] };
    }
  }
  if (!sawFreeExtras) return { reason: 'ports-taken', ports: input.extraPorts };
  return { reason: 'ssh-range-full' };
}
