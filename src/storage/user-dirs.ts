/**
 * Per-user storage on the host: <storage>/<user>/root → /root (owned by
 * container root, mode 700) and <storage>/<user>/home → /home/<user> (owned by
 * the user's uid/gid as the container sees them, mode 755); with an engine in
 * userns-remap mode those are shifted host ids (id-map.ts). sshd's StrictModes refuses keys in group- or
 * world-writable places, so modes are set explicitly, not left to umask.
 *
 * The storage directory and each <user> directory are root-only (700): the
 * user is root inside their containers and can leave setuid-root programs in
 * their storage, which no host account may be able to reach and run. Below
 * root/ and home/ everything is the user's, so keys are written there only
 * through no-follow descriptors (see no-follow.ts), and the whole tree is
 * removed only by remove-tree.ts, which never follows a link.
 */
import { join } from 'node:path';
import { ensureChildDir, openTrustedDir, withFd } from './no-follow.js';
import { storageOwners, type StorageOwners } from './id-map.js';
import { closeKeyTarget, openKeyTarget, writeKeyTargets, type KeyChange } from './authorized-keys.js';

export interface UserDirs {
  base: string;
  root: string;
  home: string;
}

export function userDirs(storageDir: string, user: string): UserDirs {
  const base = join(storageDir, user);
  return { base, root: join(base, 'root'), home: join(base, 'home') };
}

/** Merges `keyLines` into <dir>/.ssh/authorized_keys (lines already there stay, so user edits survive). */
export function installKeys(dirFd: number, shownDir: string, uid: number, gid: number, keyLines: string[]): void {
  const t = openKeyTarget(dirFd, shownDir, uid, gid);
  try {
    writeKeyTargets([t], { add: keyLines });
  } finally {
    closeKeyTarget(t);
  }
}

/**
 * Creates (or repairs) both directories and applies the key change to both
 * authorized_keys files, all-or-nothing (see authorized-keys.ts). A plain list
 * of lines is merged in. Idempotent. `owners` are the host ids of container
 * root and of the user as the engine maps them (see id-map.ts); by default the
 * ids themselves (no user namespace).
 */
export function ensureUserDirs(
  storageDir: string,
  user: string,
  uid: number,
  gid: number,
  keys: string[] | KeyChange,
  owners: StorageOwners = storageOwners(null, uid, gid),
  /** Called once both directories exist, before a key is written (dcm-useradd's crash-test pause point). */
  beforeKeys: () => void = () => undefined,
): UserDirs {
  const d = userDirs(storageDir, user);
  const { root: r, home: h } = owners;
  const change: KeyChange = Array.isArray(keys) ? { add: keys } : keys;
  withFd(openTrustedDir(storageDir, { uid: 0, gid: 0, mode: 0o700 }), (storageFd) =>
    withFd(ensureChildDir(storageFd, user, d.base, 0, 0, 0o700), (baseFd) =>
      withFd(ensureChildDir(baseFd, 'root', d.root, r.uid, r.gid, 0o700), (rootFd) =>
        withFd(ensureChildDir(baseFd, 'home', d.home, h.uid, h.gid, 0o755), (homeFd) => {
          beforeKeys();
          // Both files are checked and read before either is written.
          const rootKeys = openKeyTarget(rootFd, d.root, r.uid, r.gid);
          try {
            const homeKeys = openKeyTarget(homeFd, d.home, h.uid, h.gid);
            try {
              writeKeyTargets([rootKeys, homeKeys], change);
            } finally {
              closeKeyTarget(homeKeys);
            }
          } finally {
            closeKeyTarget(rootKeys);
          }
        }),
      ),
    ),
  );
  return d;
}
