/**
 * Opening the SQLite database: WAL so readers never block the writer, a busy
 * timeout so several dcm processes (server, forced-command shells, admin tools)
 * can share one file (a write waits up to BUSY_TIMEOUT_MS for another
 * process's write lock, then fails with "database busy"), and foreign keys on.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate } from './migrate.js';
import { DcmError } from '../errors.js';
import { BUSY_TIMEOUT_MS, explainStorageFailure } from './db-errors.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** Directory holding NNNN_name.sql files; defaults to the shipped migrations/. */
  migrationsDir?: string;
}

export function openDb(file: string, opts: OpenOptions = {}): Db {
  let db: Db | undefined;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    migrate(db, opts.migrationsDir);
    return db;
  } catch (e) {
    db?.close();
    // A full disk or a read-only database says so (db-errors.ts); a refusal stays as it is.
    if (e instanceof DcmError) throw e;
    throw explainStorageFailure(e, file) ?? new DcmError('unavailable', `cannot open the dcm database ${file}: ${(e as Error).message}`);
  }
}

/**
 * Run fn inside BEGIN IMMEDIATE: the write lock is taken up front, so a
 * check-then-insert cannot interleave with another process doing the same.
 */
export function immediate<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}

/** SQLite's integrity_check: "ok", or its findings joined. */
export function integrityCheck(db: Db): string {
  return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
}

/** Longest a backup or restore copy may take (a copy that keeps meeting a lock gives up). */
const COPY_TIMEOUT_MS = 60_000;
/** Asked of SQLite's backup step: every page in one step, i.e. under one read transaction. */
const ALL_PAGES = 0x7fffffff;

/** Copies the database behind `src` into `file` (made if absent), in one step, bounded in time. */
export async function onlineCopy(src: Db, file: string, timeoutMs = COPY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await src.backup(file, {
    progress: () => {
      // Only reached while the destination is locked by another process (or on a huge database).
      if (Date.now() > deadline)
        throw new DcmError('unavailable', `the copy did not finish within ${timeoutMs / 1000} s (is the database locked?)`);
      return ALL_PAGES;
    },
  });
}
