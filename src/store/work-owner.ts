/**
 * Who owns work in flight (a row in 'creating' or 'removing', a start or
 * commit claim, a user being deleted): a token naming this process,
 * "<pid>:<start time>@<boot id>/<pid namespace>". The start time (clock ticks
 * since boot, /proc/<pid>/stat field 22) tells a pid reused by another process
 * from the one that wrote the token, and the boot id tells a token written
 * before a reboot; so a token whose process is gone is recognised as crashed
 * work at once, with no grace period.
 *
 * A token from another pid namespace (a dcm process in a container of its own)
 * cannot be checked from here: it counts as alive, and the grace periods decide.
 */
import { readFileSync, readlinkSync } from 'node:fs';

function read(path: string, how: (p: string) => string): string | null {
  try {
    return how(path).trim();
  } catch {
    return null;
  }
}
const text = (p: string) => readFileSync(p, 'utf8');

/** The start time of `pid` from /proc, or null when no such (living) process exists. */
function startTimeOf(pid: number): string | null {
  const stat = read(`/proc/${pid}/stat`, text);
  if (stat === null) return null;
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (the state); a zombie has finished its work. Field 22 is rest[19].
  if (rest[0] === 'Z' || rest[0] === 'X') return null;
  return rest[19] ?? null;
}

const bootId = () => read('/proc/sys/kernel/random/boot_id', text) ?? 'unknown-boot';
const pidNamespace = () => (read('/proc/self/ns/pid', readlinkSync) ?? 'unknown-ns').replace(/\D/g, '');

let mine: string | undefined;
let here: string | undefined;

/** This process's token. */
export function myWorkOwner(): string {
  here ??= `${bootId()}/${pidNamespace()}`;
  mine ??= `${process.pid}:${startTimeOf(process.pid) ?? '0'}@${here}`;
  return mine;
}

/** Whether the process that wrote `token` may still be running (see the file comment). */
export function workOwnerAlive(token: string): boolean {
  const m = /^(\d+):(\d+)@([0-9a-f-]+)\/(\d*)$/.exec(token);
  if (!m) return true; // not ours to judge: the grace periods decide
  myWorkOwner();
  const [boot, ns] = here!.split('/');
  if (m[3] !== boot) return false; // written before the host restarted
  if (m[4] !== ns) return true;
  return startTimeOf(Number(m[1])) === m[2];
}
