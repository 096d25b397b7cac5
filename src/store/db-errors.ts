/**
 * Saying what is wrong when the database or the disk under it fails, instead
 * of "internal error": a full disk, a read-only database (read-only file
 * system or no write permission), a database that cannot be opened.
 *
 * Two audiences, decided here once:
 * - a user is told what it means for them, without host paths or uids
 *   ("the server's disk is full: nothing can be saved until the
 *   administrator frees space");
 * - an administrator (dcm-server's log, the admin tools, root running
 *   `dcm --user NAME`) is told what and where ("disk full: /var/lib/dcm/dcm.db").
 *
 * SQLite's own codes do not always say why (a full disk while the shared
 * memory file is made is SQLITE_IOERR_SHMSIZE; a read-only file system is
 * SQLITE_CANTOPEN), so the file system is asked.
 */
import { accessSync, constants, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DcmError, userLine } from '../errors.js';

export type StorageProblem = 'full' | 'read-only' | 'cannot-use' | 'busy';

/**
 * How long a write waits for another process's write lock on the database
 * before giving up (SQLite's busy handler retries, sleeping a little longer
 * each time, until then). dcm's own transactions last milliseconds; only a
 * stuck process, or someone holding the file open in a transaction, waits
 * this long.
 */
export const BUSY_TIMEOUT_MS = 10_000;
const BUSY_SECONDS = BUSY_TIMEOUT_MS / 1000;

/** A storage failure: userMessage for users, adminDetail (with the path) for administrators. */
export class StorageFailure extends DcmError {
  constructor(
    readonly problem: StorageProblem,
    readonly path: string,
    userMessage: string,
    adminDetail: string,
  ) {
    super('unavailable', userMessage, adminDetail);
  }

  /** The administrator's line. */
  get detail(): string {
    return this.adminDetail!;
  }
}

/** What each problem means for a user: a short phrase, and the one line they get. */
const USER_REASON: Record<StorageProblem, string> = {
  full: "the server's disk is full",
  'read-only': "dcm's database is read-only",
  'cannot-use': 'dcm cannot use its database',
  busy: "dcm's database is busy",
};
const USER_LINE: Record<StorageProblem, string> = {
  full: `${USER_REASON.full}: nothing can be saved until the administrator frees space`,
  'read-only': `${USER_REASON['read-only']}: nothing can be saved until the administrator fixes it`,
  'cannot-use': `${USER_REASON['cannot-use']}: the administrator must fix it`,
  busy: `${USER_REASON.busy}: another program held it for more than ${BUSY_SECONDS} s; try again`,
};
/** A read-only file that is not the database (a user's storage, a host key). */
const USER_LINE_STORAGE_READONLY = "dcm's storage is read-only: nothing can be saved until the administrator fixes it";

const FULL = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);

/**
 * e as a storage failure of the database (dbFile) or of a file dcm writes
 * (an fs error names its path), or null when it is something else (a bug,
 * an engine error, a refusal already explained).
 */
export function explainStorageFailure(e: unknown, dbFile: string): StorageFailure | null {
  if (e instanceof StorageFailure) return e;
  if (e instanceof DcmError || typeof e !== 'object' || e === null) return null;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return null;
  const fsPath = (e as { path?: unknown }).path;
  const isSqlite = code.startsWith('SQLITE_');
  // Another process held the write lock past the bound: the statement did not run.
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
    const detail = `database busy: ${dbFile} was locked by another process for more than ${BUSY_SECONDS} s (${code})`;
    return new StorageFailure('busy', dbFile, USER_LINE.busy, detail);
  }
  // An fs error counts when it is about space or a read-only file system wherever
  // it happened, and about permissions only on the database, its -wal/-shm files or their directory.
  if (!isSqlite) {
    if (typeof fsPath !== 'string') return null;
    const dbItself = fsPath === dbFile || fsPath.startsWith(`${dbFile}-`) || fsPath === dirname(dbFile);
    if (!FULL.has(code) && code !== 'EROFS' && !((code === 'EACCES' || code === 'EPERM') && dbItself)) return null;
  } else if (!FULL.has(code) && !/^SQLITE_(READONLY|CANTOPEN|IOERR|PERM|AUTH)/.test(code)) {
    return null; // constraint, misuse...: not the disk's fault
  }
  const path = typeof fsPath === 'string' ? fsPath : dbFile;
  const onDb = path === dbFile || path.startsWith(`${dbFile}-`) || path === dirname(dbFile);
  const why = FULL.has(code)
    ? { problem: 'full' as const, detail: `disk full: ${path}` }
    : probe(path, code, (e as Error).message, onDb ? 'database' : 'storage');
  const line = why.problem === 'read-only' && !onDb ? USER_LINE_STORAGE_READONLY : USER_LINE[why.problem];
  return new StorageFailure(why.problem, path, line, why.detail);
}

/** Finds out from the file system why a file could not be opened or written. */
function probe(path: string, code: string, message: string, what: 'database' | 'storage'): { problem: StorageProblem; detail: string } {
  const dir = dirname(path);
  const uid = process.geteuid?.() ?? -1;
  const errno = (p: string, mode: number): string | null => {
    try {
      accessSync(p, mode);
      return null;
    } catch (x) {
      return (x as NodeJS.ErrnoException).code ?? 'ERROR';
    }
  };
  const dirW = errno(dir, constants.W_OK);
  const fileW = errno(path, constants.W_OK);
  if (dirW === 'EROFS' || fileW === 'EROFS' || code === 'EROFS')
    return { problem: 'read-only', detail: `${what} is read-only: ${path} (read-only file system)` };
  try {
    const fs = statfsSync(dir);
    if (fs.bavail === 0 || fs.ffree === 0) return { problem: 'full', detail: `disk full: ${path}` };
  } catch {
    /* no such directory: said below */
  }
  if (fileW === 'EACCES' || fileW === 'EPERM' || (fileW === 'ENOENT' && dirW === 'EACCES')) {
    return { problem: 'read-only', detail: `${what} is read-only: ${path} (no write permission for uid ${uid})` };
  }
  if (code.startsWith('SQLITE_READONLY')) return { problem: 'read-only', detail: `${what} is read-only: ${path} (${code}: ${message})` };
  return { problem: 'cannot-use', detail: `cannot use the ${what}: ${path} (${code}: ${message})` };
}

/**
 * A removal the engine finished but the database could not record: the row
 * stays 'removing', which reconcile (and another rm) finishes.
 */
export function removedButNotRecorded(containerId: number, e: unknown, dbFile: string): StorageFailure {
  const f = explainStorageFailure(e, dbFile);
  const problem = f?.problem ?? 'cannot-use';
  const detail = f?.detail ?? `${(e as Error).message ?? String(e)}`;
  return new StorageFailure(
    problem,
    f?.path ?? dbFile,
    `container ${containerId} was removed, but dcm could not record it (${USER_REASON[problem]}): it shows as removing until the administrator runs dcm-admin reconcile`,
    `container ${containerId} was removed from the engine, but its row could not be deleted (${detail}): it stays 'removing' until dcm-admin reconcile or another rm`,
  );
}

/** The one line for an error: an administrator gets a storage failure's path and cause. */
export function lineFor(e: unknown, admin: boolean): string {
  return admin && e instanceof StorageFailure ? e.detail : userLine(e);
}
