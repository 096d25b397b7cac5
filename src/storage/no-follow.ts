/**
 * File operations that never follow a symbolic link planted by a user.
 *
 * A user's storage is mounted read-write into containers where the user is
 * root, so anything below <storage>/<user>/{root,home} may be a symlink to a
 * host path by the time dcm (running as host root) writes keys there. Every
 * step therefore works on an open directory descriptor: names are resolved
 * through /proc/self/fd/<fd>/<name> (Linux's openat(2) from Node), the last
 * component is opened with O_NOFOLLOW, ownership and modes are set on the
 * descriptor, and files are replaced by rename, so a swapped or hard-linked
 * entry is never written through.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { DcmError } from '../errors.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/** The path through which the kernel resolves `name` inside the open directory `dirFd`. */
export const inDir = (dirFd: number, name: string): string => `/proc/self/fd/${dirFd}/${name}`;

function checkName(name: string): void {
  if (!name || name === '.' || name === '..' || name.includes('/')) throw new Error(`bad path component: ${name}`);
}

/** The one refusal for an entry that is a link or of the wrong kind, wherever storage is walked. */
export const refuse = (shown: string, what: string) =>
  new DcmError('conflict', `${shown} is ${what}; refusing to follow it (remove it, e.g. from inside a container, and retry)`);

/** Opens a directory the admin configured (its own path may contain links: the admin chose it). */
export function openTrustedDir(path: string, create: { uid: number; gid: number; mode: number } | null): number {
  if (create) mkdirSync(path, { recursive: true, mode: create.mode });
  const fd = openSync(path, O_RDONLY | O_DIRECTORY);
  if (create) {
    fchownSync(fd, create.uid, create.gid);
    fchmodSync(fd, create.mode);
  }
  return fd;
}

/**
 * Makes (if missing) and opens the directory `name` inside `dirFd`, refusing a
 * symlink or non-directory there, then sets owner and mode on the descriptor.
 * `shown` is the path used in messages. The caller closes the returned fd.
 */
export function ensureChildDir(dirFd: number, name: string, shown: string, uid: number, gid: number, mode: number): number {
  checkName(name);
  try {
    mkdirSync(inDir(dirFd, name), { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let fd: number;
  try {
    fd = openSync(inDir(dirFd, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw refuse(shown, 'a symbolic link or not a directory');
    throw e;
  }
  fchownSync(fd, uid, gid);
  fchmodSync(fd, mode);
  return fd;
}

/** Reads a regular file inside `dirFd` (at most `max` bytes); null when absent. Links and FIFOs are refused. */
export function readChildFile(dirFd: number, name: string, shown: string, max = 1 << 20): string | null {
  checkName(name);
  let fd: number;
  try {
    fd = openSync(inDir(dirFd, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw refuse(shown, 'a symbolic link');
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(shown, 'not a regular file');
    const buf = Buffer.alloc(Math.min(st.size, max));
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Replaces `name` inside `dirFd` with `content` atomically: a fresh file, owned and moded, renamed over it. */
export function replaceChildFile(dirFd: number, name: string, content: string, uid: number, gid: number, mode: number): void {
  checkName(name);
  const tmp = `.${name}.dcm-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(inDir(dirFd, tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    const buf = Buffer.from(content, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fchownSync(fd, uid, gid);
    fchmodSync(fd, mode);
  } catch (e) {
    closeSync(fd);
    unlinkSync(inDir(dirFd, tmp));
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(inDir(dirFd, tmp), inDir(dirFd, name));
  } catch (e) {
    unlinkSync(inDir(dirFd, tmp));
    throw e;
  }
}

/** Runs `fn` with an open fd and always closes it. */
export function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}
