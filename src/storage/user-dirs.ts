/**
 * Per-user storage on the host: <storage>/<user>/root → /root (owned by 0,
 * mode 700) and <storage>/<user>/home → /home/<user> (owned by the user's
 * uid/gid, mode 755). sshd's StrictModes refuses keys in group- or
 * world-writable places, so modes are set explicitly, not left to umask.
 */
import { mkdirSync, writeFileSync, chownSync, chmodSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface UserDirs {
  base: string;
  root: string;
  home: string;
}

export function userDirs(storageDir: string, user: string): UserDirs {
  const base = join(storageDir, user);
  return { base, root: join(base, 'root'), home: join(base, 'home') };
}

function ensureDir(path: string, uid: number, gid: number, mode: number): void {
  mkdirSync(path, { recursive: true });
  chownSync(path, uid, gid);
  chmodSync(path, mode);
}

/** Writes authorized_keys (merging with lines already there, so user edits survive). */
function writeKeys(dir: string, uid: number, gid: number, keyLines: string[]): void {
  const sshDir = join(dir, '.ssh');
  ensureDir(sshDir, uid, gid, 0o700);
  const file = join(sshDir, 'authorized_keys');
  const existing = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()) : [];
  const lines = [...existing];
  for (const k of keyLines) if (!lines.includes(k)) lines.push(k);
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  chownSync(file, uid, gid);
  chmodSync(file, 0o600);
}

/** Creates (or repairs) both directories and installs the keys. Idempotent. */
export function ensureUserDirs(storageDir: string, user: string, uid: number, gid: number, keyLines: string[]): UserDirs {
  const d = userDirs(storageDir, user);
  ensureDir(storageDir, 0, 0, 0o755);
  ensureDir(d.base, 0, 0, 0o755);
  ensureDir(d.root, 0, 0, 0o700);
  ensureDir(d.home, uid, gid, 0o755);
  writeKeys(d.root, 0, 0, keyLines);
  writeKeys(d.home, uid, gid, keyLines);
  return d;
}

export function removeUserDirs(storageDir: string, user: string): boolean {
  const d = userDirs(storageDir, user);
  if (!existsSync(d.base)) return false;
  rmSync(d.base, { recursive: true, force: true });
  return true;
}
