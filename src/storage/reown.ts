/**
 * Gives a user's storage the owners the engine needs now. Storage made while
 * the engine ran without user namespaces belongs to host ids 0 and the user's
 * uid; once the engine remaps users, container root is another host id and
 * would see those as "nobody", so sshd's StrictModes refuses both logins (and
 * the other way round when remapping is turned off).
 *
 * Before each create and start, dcm re-owns exactly what the two logins need:
 * root/ and home/, their .ssh directories and .ssh/authorized_keys. Files the
 * user made below keep their owners (the admin shifts them if wanted, see the
 * README). Everything below root/ and home/ is the user's, so each step goes
 * through a no-follow descriptor and a link is refused, never followed.
 */
import { constants, fchownSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { DcmError } from '../errors.js';
import { inDir, openTrustedDir, refuse, withFd } from './no-follow.js';
import type { Owner, StorageOwners } from './id-map.js';
import { userDirs } from './user-dirs.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;

const missing = (shown: string) =>
  new DcmError(
    'conflict',
    `${shown} is missing; storage is made only by dcm-useradd (the user may be being deleted; the administrator can check with dcm-admin users)`,
  );

/** Opens an existing entry without following a link; null when it is absent. */
function openEntry(dirFd: number, name: string, shown: string, directory: boolean): number | null {
  try {
    return openSync(inDir(dirFd, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | (directory ? O_DIRECTORY : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw refuse(shown, directory ? 'a symbolic link or not a directory' : 'a symbolic link');
    throw e;
  }
}

/** chown through the descriptor, only when the owner differs. */
function own(fd: number, to: Owner): void {
  const st = fstatSync(fd);
  if (st.uid !== to.uid || st.gid !== to.gid) fchownSync(fd, to.uid, to.gid);
}

/** Re-owns <dir>/.ssh and <dir>/.ssh/authorized_keys, when present. */
function ownKeys(dirFd: number, shownDir: string, to: Owner): void {
  const shownSsh = join(shownDir, '.ssh');
  const sshFd = openEntry(dirFd, '.ssh', shownSsh, true);
  if (sshFd === null) return;
  withFd(sshFd, () => {
    own(sshFd, to);
    const shownKeys = join(shownSsh, 'authorized_keys');
    const keysFd = openEntry(sshFd, 'authorized_keys', shownKeys, false);
    if (keysFd === null) return;
    withFd(keysFd, () => {
      const st = fstatSync(keysFd);
      if (!st.isFile()) throw refuse(shownKeys, 'not a regular file');
      // A second name for the file could be outside the user's storage.
      if (st.nlink > 1) throw refuse(shownKeys, 'a hard link');
      own(keysFd, to);
    });
  });
}

/**
 * Gives root/ and home/ and their keys the owners in `owners`. Storage is made
 * only by dcm-useradd: a missing part is refused, never made again here, so a
 * start racing dcm-userdel cannot bring back storage that was just removed.
 */
export function reownUserDirs(storageDir: string, user: string, owners: StorageOwners): void {
  const d = userDirs(storageDir, user);
  withFd(openTrustedDir(storageDir, { uid: 0, gid: 0, mode: 0o700 }), (storageFd) => {
    const fd = openEntry(storageFd, user, d.base, true);
    if (fd === null) throw missing(d.base);
    withFd(fd, () => {
      for (const [name, shown, to] of [
        ['root', d.root, owners.root],
        ['home', d.home, owners.home],
      ] as const) {
        const sub = openEntry(fd, name, shown, true);
        if (sub === null) throw missing(shown);
        withFd(sub, () => {
          own(sub, to);
          ownKeys(sub, shown, to);
        });
      }
    });
  });
}
