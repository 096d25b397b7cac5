/**
 * Whether a host path's filesystem honours setuid bits. A read-write mount
 * shared by users who are root in their containers lets one of them leave a
 * setuid-root program there that any host account able to reach the path runs
 * as root, unless the host filesystem is mounted `nosuid`. Node has no
 * statfs(2) flags, so this reads /proc/self/mountinfo: the mount whose mount
 * point is the longest prefix of the path's real location (the last one listed
 * when several are stacked on one point) and its per-mount options.
 */
import { readFile, realpath } from 'node:fs/promises';

/** One line of /proc/self/mountinfo, the parts used here. */
export interface MountEntry {
  mountPoint: string;
  options: string[];
  fsType: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (f.length < 10 || dash < 6) continue;
    out.push({ mountPoint: unescapeOctal(f[4]!), options: f[5]!.split(','), fsType: f[dash + 1] ?? '' });
  }
  return out;
}

const within = (path: string, mountPoint: string) => mountPoint === '/' || path === mountPoint || path.startsWith(mountPoint + '/');

/** The mount that holds `realPath` (already resolved); null when none matches. */
export function mountOf(entries: MountEntry[], realPath: string): MountEntry | null {
  let best: MountEntry | null = null;
  for (const e of entries) {
    if (within(realPath, e.mountPoint) && (!best || e.mountPoint.length >= best.mountPoint.length)) best = e;
  }
  return best;
}

/** Mounts below `realPath` (Docker binds recursively, so they come along) that lack nosuid. */
export function setuidSubmounts(entries: MountEntry[], realPath: string): string[] {
  const inside = entries.filter((e) => e.mountPoint !== realPath && within(e.mountPoint, realPath));
  // Of several mounts stacked on one point, the last listed is the one seen.
  const top = new Map<string, MountEntry>();
  for (const e of inside) top.set(e.mountPoint, e);
  return [...top.values()].filter((e) => !e.options.includes('nosuid')).map((e) => e.mountPoint);
}

export interface SetuidFacts {
  /** Where the path really is (links resolved). */
  realPath: string;
  mountPoint: string;
  /** True unless the mount carries `nosuid`. */
  setuidAllowed: boolean;
  /** Mount points below the path without nosuid (a recursive bind brings them in). */
  setuidBelow: string[];
}

/** Looks the path up on this host; the caller has already probed that it answers. */
export async function setuidFacts(path: string): Promise<SetuidFacts> {
  const real = await realpath(path);
  const entries = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const m = mountOf(entries, real);
  // No matching mount cannot happen on Linux ("/" always matches); treat it as unsafe.
  return {
    realPath: real,
    mountPoint: m?.mountPoint ?? '/',
    setuidAllowed: !m?.options.includes('nosuid'),
    setuidBelow: setuidSubmounts(entries, real),
  };
}
