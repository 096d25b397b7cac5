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
 * through no-follow descriptors (see no-follow.ts).
 */
import { rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureChildDir, openTrustedDir, readChildFile, replaceChildFile, withFd } from './no-follow.js';
import { storageOwners, type StorageOwners } from './id-map.js';

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
  const shownSsh = join(shownDir, '.ssh');
  withFd(ensureChildDir(dirFd, '.ssh', shownSsh, uid, gid, 0o700), (sshFd) => {
    const existing = (readChildFile(sshFd, 'authorized_keys', join(shownSsh, 'authorized_keys')) ?? '')
      .split('\n').filter((l) => l.trim());
    const lines = [...existing];
    for (const k of keyLines) if (!lines.includes(k)) lines.push(k);
    replaceChildFile(sshFd, 'authorized_keys', lines.join('\n') + '\n', uid, gid, 0o600);
  });
}

/**
 * Creates (or repairs) both directories and installs the keys. Idempotent.
 * `owners` are the host ids of container root and of the user as the engine
 * maps them (see id-map.ts); by default the ids themselves (no user namespace).
 */
export function ensureUserDirs(storageDir: string, user: string, uid: number, gid: number, keyLines: string[], owners: StorageOwners = storageOwners(null, uid, gid)): UserDirs {
  const d = userDirs(storageDir, user);
  const { root: r, home: h } = owners;
  withFd(openTrustedDir(storageDir, { uid: 0, gid: 0, mode: 0o700 }), (storageFd) =>
    withFd(ensureChildDir(storageFd, user, d.base, 0, 0, 0o700), (baseFd) => {
      withFd(ensureChildDir(baseFd, 'root', d.root, r.uid, r.gid, 0o700), (fd) => installKeys(fd, d.root, r.uid, r.gid, keyLines));
      withFd(ensureChildDir(baseFd, 'home', d.home, h.uid, h.gid, 0o755), (fd) => installKeys(fd, d.home, h.uid, h.gid, keyLines));
    }));
  return d;
}

/** Removes a user's storage; rm does not follow links inside it, so only the user's own files go. */
export function removeUserDirs(storageDir: string, user: string): boolean {
  const d = userDirs(storageDir, user);
  if (!existsSync(d.base)) return false;
  rmSync(d.base, { recursive: true, force: true });
  return true;
}
