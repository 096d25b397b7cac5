/**
 * Deleting a user's storage as host root while something may still change it.
 *
 * The user is root in their containers and the tree is theirs: any directory
 * in it can be swapped for a symbolic link to a host directory between two
 * steps of a path-based walk (lstat says "directory", then readdir follows the
 * new link and the walk deletes host files). So this walk never resolves a
 * path through the tree: every directory is opened with O_NOFOLLOW|O_DIRECTORY
 * and then named only as /proc/self/fd/<fd> (the kernel's link to that very
 * directory, wherever it has moved); entries are removed with one name below
 * it, and unlink/rmdir never follow their last component. A directory on
 * another device (a mount point) is never entered, so the walk stays on the
 * storage's filesystem. Very deep trees are moved up under the top directory
 * rather than held open level by level, so the walk needs a bounded number of
 * descriptors.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { DcmError } from '../errors.js';
import { inDir } from './no-follow.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

/** Directory levels held open at once; deeper subtrees are moved up to the top. */
const MAX_DEPTH = 32;
/** Rounds in a row over one directory in which every entry changed under the walk. */
const MAX_IDLE_ROUNDS = 1000;

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

interface Walk {
  dev: number;
  topFd: number;
  /** Mount points (other devices) met inside the tree: never entered, reported. */
  mountPoints: string[];
}

/** Result of removing one entry: gone, kept (it holds a mount point), or changed under us (retry). */
type Outcome = 'gone' | 'kept' | 'retry';

/** Opens `name` in `dirFd` as a directory without following a link; null when it is not one (any more). */
function openDirNoFollow(dirFd: number, name: string): number | null {
  try {
    return openSync(inDir(dirFd, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    if (['ELOOP', 'ENOTDIR', 'ENOENT'].includes(errno(e) ?? '')) return null;
    throw e;
  }
}

/** Removes one entry of the open directory `dirFd`. */
function removeEntry(w: Walk, dirFd: number, name: string, depth: number, shown: string): Outcome {
  let isDir: boolean;
  try {
    isDir = lstatSync(inDir(dirFd, name)).isDirectory();
  } catch (e) {
    if (errno(e) === 'ENOENT') return 'gone';
    throw e;
  }
  if (!isDir) {
    try {
      unlinkSync(inDir(dirFd, name)); // never follows: a link is removed, not its target
      return 'gone';
    } catch (e) {
      const c = errno(e);
      if (c === 'ENOENT') return 'gone';
      if (c === 'EISDIR') return 'retry'; // became a directory since lstat
      throw e;
    }
  }
  const childFd = openDirNoFollow(dirFd, name);
  if (childFd === null) return 'retry'; // swapped for a link or file since lstat
  try {
    if (fstatSync(childFd).dev !== w.dev) {
      w.mountPoints.push(`${shown}/${name}`);
      return 'kept';
    }
    if (depth >= MAX_DEPTH) {
      // Too deep to hold every level open: move the subtree up under the top.
      renameSync(inDir(dirFd, name), inDir(w.topFd, `.dcm-rm-${randomBytes(6).toString('hex')}`));
      return 'gone';
    }
    if (emptyDir(w, childFd, depth + 1, `${shown}/${name}`) > 0) return 'kept';
  } finally {
    closeSync(childFd);
  }
  try {
    rmdirSync(inDir(dirFd, name)); // a link here now is not followed: ENOTDIR
    return 'gone';
  } catch (e) {
    const c = errno(e);
    if (c === 'ENOENT') return 'gone';
    if (c === 'ENOTEMPTY' || c === 'EEXIST' || c === 'ENOTDIR') return 'retry';
    throw e;
  }
}

/**
 * Empties the open directory `dirFd`, round after round while entries keep
 * appearing or changing. Returns how many entries it had to keep (mount points
 * and the directories holding them).
 */
function emptyDir(w: Walk, dirFd: number, depth: number, shown: string): number {
  const kept = new Set<string>();
  let idle = 0;
  while (idle < MAX_IDLE_ROUNDS) {
    const names = readdirSync(`/proc/self/fd/${dirFd}`).filter((n) => !kept.has(n));
    if (names.length === 0) return kept.size;
    let progress = false;
    for (const n of names) {
      const r = removeEntry(w, dirFd, n, depth, shown);
      if (r === 'kept') kept.add(n);
      if (r !== 'retry') progress = true;
    }
    idle = progress ? 0 : idle + 1;
  }
  throw new DcmError('conflict', `${shown} keeps changing while it is being removed; stop whatever writes to it and run the command again`);
}

/** What removeTree did. */
export interface RemoveReport {
  removed: boolean;
  /** Mount points found inside, left in place (the directories holding them stay too). */
  mountPoints: string[];
}

/**
 * Removes the directory `path` and everything below it without following a
 * link anywhere and without leaving its filesystem. The parent of `path` is
 * trusted (the admin's storage directory); `path` itself must be a real
 * directory. Returns removed: false when it did not exist.
 */
export function removeTree(path: string): RemoveReport {
  const parentFd = openSync(dirname(path), O_RDONLY | O_DIRECTORY);
  try {
    const name = basename(path);
    let topFd: number | null;
    try {
      topFd = openSync(inDir(parentFd, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (e) {
      const c = errno(e);
      if (c === 'ENOENT') return { removed: false, mountPoints: [] };
      if (c === 'ELOOP' || c === 'ENOTDIR')
        throw new DcmError('conflict', `${path} is a symbolic link or not a directory; refusing to remove through it`);
      throw e;
    }
    const w: Walk = { dev: fstatSync(topFd).dev, topFd, mountPoints: [] };
    try {
      emptyDir(w, topFd, 0, path);
    } finally {
      closeSync(topFd);
    }
    if (w.mountPoints.length) return { removed: false, mountPoints: w.mountPoints };
    rmdirSync(inDir(parentFd, name));
    return { removed: true, mountPoints: [] };
  } finally {
    closeSync(parentFd);
  }
}
