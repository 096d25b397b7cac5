/**
 * The last check before the engine mounts a user's storage. Docker resolves a
 * bind source when it creates and (again) every time it starts a container,
 * following symbolic links: were <storage>, <storage>/<user>, or its root/ or
 * home/ a link to /root or /etc, that host directory would be mounted
 * read-write into the container. So right before create, start and restart,
 * every storage path dcm binds is walked component by component with
 * O_NOFOLLOW|O_DIRECTORY descriptors and must be a real directory of the
 * expected owner that no one else can write. The storage directory and the
 * user directory are root-only, so nothing but host root can change them
 * between this check and the engine's mount.
 */
import type { StorageOwners as MappedOwners } from './id-map.js';
import { closeSync, constants, fstatSync, lstatSync, openSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DcmError } from '../errors.js';
import { inDir } from './no-follow.js';
import { needsServerError } from './server-absence.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

/**
 * Who must own the storage. Normally container root is host root (0) and the
 * user's uid/gid are the same inside and out; an engine that remaps user
 * namespaces shifts both, and passes the shifted ids here.
 */
export interface StorageOwners {
  rootUid: number;
  homeUid: number;
  homeGid: number;
}

/** The owners on an engine without user-namespace remapping. */
export function plainOwners(user: { uid: number; gid: number }): StorageOwners {
  return { rootUid: 0, homeUid: user.uid, homeGid: user.gid };
}

/** The owners id-map.ts worked out for the engine's mode (remapped or not). */
export function bindOwners(o: MappedOwners): StorageOwners {
  return { rootUid: o.root.uid, homeUid: o.home.uid, homeGid: o.home.gid };
}

interface Expect {
  /** Shown to the user, as the container sees it. */
  inside: string;
  /** Unchecked when undefined (the shape-only check before owners are set). */
  uid?: number;
  gid?: number;
}

function refuse(user: string, inside: string, hostPath: string, what: string): DcmError {
  return new DcmError(
    'denied',
    `your storage cannot be mounted safely: ${inside} ${what} on the host; ask the administrator`,
    `${hostPath} ${what}; refusing to bind it for ${user}`,
  );
}

/** Opens `name` in `dirFd` (or the absolute `path` when dirFd is null) as a directory, never through a link, and checks it. */
function openChecked(user: string, dirFd: number | null, path: string, want: Expect): number {
  const at = dirFd === null ? path : inDir(dirFd, basename(path));
  let fd: number;
  try {
    fd = openSync(at, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      // Linux answers either for a link under O_NOFOLLOW|O_DIRECTORY; lstat tells them apart.
      const link = (() => {
        try {
          return lstatSync(at).isSymbolicLink();
        } catch {
          return false;
        }
      })();
      throw refuse(user, want.inside, path, link ? 'is a symbolic link' : 'is not a directory');
    }
    if (code === 'ENOENT') throw refuse(user, want.inside, path, 'is missing');
    // The storage is root-only: a door running as another account (the service
    // account's dcm-shell with no dcm-server to hand the command to) cannot
    // check it, and a bind it cannot check is never made (server-absence.ts words why).
    if (code === 'EACCES') throw needsServerError(path);
    throw e;
  }
  const st = fstatSync(fd);
  const problem =
    want.uid !== undefined && st.uid !== want.uid
      ? `is owned by uid ${st.uid}, not ${want.uid}`
      : want.gid !== undefined && st.gid !== want.gid
        ? `has group ${st.gid}, not ${want.gid}`
        : (st.mode & 0o022) !== 0
          ? `is writable by group or others (mode ${(st.mode & 0o7777).toString(8)})`
          : null;
  if (problem) {
    closeSync(fd);
    throw refuse(user, want.inside, path, problem);
  }
  return fd;
}

/**
 * Checks <storageDir>, <storageDir>/<user>, and its root/ (when `withRoot`)
 * and home/ directories. Throws a DcmError ('denied') with one line for the
 * user and the host path in the admin detail. The parent of the storage
 * directory is the admin's choice and is resolved normally. With `owners`
 * null, only the shape is checked (real directories, no links, not writable
 * by others): that runs before dcm re-owns the two directories for the
 * engine's user namespace mode, so that it never touches a planted link.
 */
export function verifyStorageBinds(storageDir: string, user: string, owners: StorageOwners | null, withRoot = true): void {
  const base = join(storageDir, user);
  const storageFd = openChecked(user, null, resolve(storageDir), { inside: 'the storage directory', uid: 0 });
  try {
    const baseFd = openChecked(user, storageFd, base, { inside: 'your storage directory', uid: 0 });
    try {
      if (withRoot) closeSync(openChecked(user, baseFd, join(base, 'root'), { inside: '/root', uid: owners?.rootUid }));
      closeSync(openChecked(user, baseFd, join(base, 'home'), { inside: `/home/${user}`, uid: owners?.homeUid, gid: owners?.homeGid }));
    } finally {
      closeSync(baseFd);
    }
  } finally {
    closeSync(storageFd);
  }
}
