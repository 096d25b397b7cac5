/**
 * Which host ids a user's storage must belong to. Inside a container, /root
 * must belong to root and /home/<user> to the user (sshd's StrictModes checks
 * both). Without user namespaces those are host ids 0 and the user's uid/gid;
 * with an engine started with `userns-remap`, each container id is shifted into
 * the remap account's subordinate range (container root = host uid base+0),
 * and an id outside that range does not exist in the container at all.
 */
import { DcmError } from '../errors.js';
import type { IdRange, UsernsRemap } from '../engine/engine.js';

export interface Owner {
  uid: number;
  gid: number;
}

/** Owners of <storage>/<user>/root and <storage>/<user>/home. */
export interface StorageOwners {
  root: Owner;
  home: Owner;
}

/** The host id a container id becomes; null when the mapping has no room for it. */
export function hostId(ranges: IdRange[], containerId: number): number | null {
  for (const r of ranges) {
    if (containerId >= r.containerId && containerId < r.containerId + r.size) return r.hostId + (containerId - r.containerId);
  }
  return null;
}

/** How much of the container id space a mapping covers, for messages: "dockremap 100000:65536". */
function describe(remap: UsernsRemap, ranges: IdRange[]): string {
  return `${remap.user ?? 'remap user'} ${ranges.map((r) => `${r.hostId}:${r.size}`).join(',')}`;
}

/**
 * The host owners for a user's storage; `remap` null means no user namespace.
 * Throws one line when the user's uid or gid does not exist inside the engine's
 * user namespace (their logins could never work there).
 */
export function storageOwners(remap: UsernsRemap | null, uid: number, gid: number): StorageOwners {
  if (!remap) return { root: { uid: 0, gid: 0 }, home: { uid, gid } };
  const rootUid = hostId(remap.uids, 0);
  const rootGid = hostId(remap.gids, 0);
  const homeUid = hostId(remap.uids, uid);
  const homeGid = hostId(remap.gids, gid);
  const fix =
    'the administrator must give that account a larger range in /etc/subuid and /etc/subgid (covering storage.uid_range) and restart dockerd';
  if (homeUid === null || rootUid === null) {
    throw new DcmError('denied', `uid ${uid} is outside the engine's user namespace (${describe(remap, remap.uids)}): ${fix}`);
  }
  if (homeGid === null || rootGid === null) {
    throw new DcmError('denied', `gid ${gid} is outside the engine's user namespace (${describe(remap, remap.gids)}): ${fix}`);
  }
  return { root: { uid: rootUid, gid: rootGid }, home: { uid: homeUid, gid: homeGid } };
}
