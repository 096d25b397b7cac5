/**
 * Backups of the database and their restore (dcm-admin backup / restore).
 *
 * A backup is taken with SQLite's online backup in one step: one read
 * transaction, so the copy is one consistent moment of the database, and
 * (WAL) dcm-server and the doors keep writing meanwhile. It is written to a
 * temporary file made 0600 before any byte is in it, checked, synced and
 * renamed into place, so FILE is either the old file or the whole new copy.
 *
 * A restore first copies FILE next to the database (so what is checked is
 * what is restored), refuses it unless it passes integrity_check, belongs to
 * this installation and has no migration this dcm does not know, keeps the
 * database as it was in <db>.before-restore-<time>, and then writes the
 * backup into the database through SQLite's backup too: under SQLite's locks,
 * so a door that has the database open sees the old or the new one, never a
 * mix (replacing the file would leave such a door writing to the old one).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, fchmodSync, fsyncSync, lstatSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DcmError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { explainStorageFailure } from './db-errors.js';
import { integrityCheck, onlineCopy } from './db.js';
import { appliedMigrations, readMigrations } from './migrate.js';
import { Store } from './store.js';

/** What a database file holds, as far as a backup or restore reports it. */
export interface DbFacts {
  installation: string;
  /** Highest migration applied, e.g. 7. */
  schema: number;
  users: number;
  containers: number;
  images: number;
  bytes: number;
}

export interface BackupReport extends DbFacts {
  file: string;
  ms: number;
}

/** Whether `file` is the database itself or one of its -wal/-shm/-journal files. */
const isDbFile = (dbFile: string, file: string) => file === dbFile || file.startsWith(`${dbFile}-`);

/** A new file made 0600 for root, never an existing one: the copy is never readable by others, even half-made. */
function privateTemp(dir: string, name: string): string {
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // whatever the umask
  } finally {
    closeSync(fd);
  }
  return tmp;
}

const removeWithSideFiles = (file: string) => {
  for (const f of [file, `${file}-journal`, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
};

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Turns a copied file into a self-contained one (no -wal beside it), checks
 * it and says what it holds. Throws a refusal when it is not a sound dcm
 * database: `what` names it in the message.
 */
function settle(file: string, what: string): DbFacts & { applied: { version: number; name: string }[] } {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch (e) {
    throw new DcmError('invalid', `${what} cannot be opened as a database (${(e as Error).message}): refused`);
  }
  try {
    let integrity: string;
    try {
      db.pragma('journal_mode = DELETE');
      integrity = integrityCheck(db);
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (code === 'SQLITE_NOTADB') throw new DcmError('invalid', `${what} is not a database: refused`);
      if (code.startsWith('SQLITE_CORRUPT')) throw new DcmError('invalid', `${what} is damaged (SQLite's integrity check fails): refused`);
      throw e;
    }
    if (integrity !== 'ok') throw new DcmError('invalid', `${what} is damaged (SQLite's integrity check fails): refused`);
    const has = (t: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
    if (!has('schema_migrations') || !has('installation') || !has('users') || !has('containers'))
      throw new DcmError('invalid', `${what} is not a dcm database: refused`);
    const row = db.prepare('SELECT id FROM installation WHERE one = 1').get() as { id: string } | undefined;
    if (!row) throw new DcmError('invalid', `${what} has no installation id: refused`);
    const count = (t: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    const applied = appliedMigrations(db);
    return {
      installation: row.id,
      schema: applied.at(-1)?.version ?? 0,
      applied,
      users: count('users'),
      containers: count('containers'),
      images: has('images') ? count('images') : 0,
      bytes: lstatSync(file).size,
    };
  } finally {
    db.close();
  }
}

/** Explains a failure to write `file` (a full disk, a read-only directory) with that path; anything else stays. */
const aboutFile = (e: unknown, file: string): unknown => explainStorageFailure(e, file) ?? e;

/**
 * Writes a consistent copy of the store's database to `target`, 0600,
 * atomically; an existing file is refused unless `force`.
 */
export async function writeBackup(store: Store, target: string, force: boolean): Promise<BackupReport> {
  const file = resolve(target);
  if (isDbFile(store.path, file)) throw new DcmError('invalid', `${file} is the database itself: choose another file`);
  let st: ReturnType<typeof lstatSync> | null = null;
  try {
    st = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw aboutFile(e, file);
  }
  if (st?.isDirectory()) throw new DcmError('invalid', `${file} is a directory: name a file`);
  if (st && !force) throw new DcmError('conflict', `${file} exists: refused (--force replaces it)`);
  const dir = dirname(file);
  if (!existsSync(dir)) throw new DcmError('not-found', `no such directory: ${dir}`);
  const t0 = performance.now();
  let tmp: string | null = null;
  try {
    tmp = privateTemp(dir, basename(file));
    await store.copyTo(tmp);
    const facts = settle(tmp, 'the copy');
    fsyncPath(tmp);
    renameSync(tmp, file);
    tmp = null;
    fsyncPath(dir);
    const { applied: _, ...rest } = facts;
    return { ...rest, file, ms: Math.round(performance.now() - t0) };
  } catch (e) {
    throw aboutFile(e, file);
  } finally {
    if (tmp) removeWithSideFiles(tmp);
  }
}

export interface RestoreReport extends DbFacts {
  file: string;
  dbFile: string;
  /** Where the database as it was before is kept; null when there was none. */
  before: string | null;
  ms: number;
}

/** 2026-12-01T08:30:00.123Z → 20261201T083000Z */
const stamp = () =>
  new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/**
 * Restores `source` into `dbFile` after the checks above. The caller has made
 * sure no dcm-server serves this database.
 */
export async function restoreBackup(
  dbFile: string,
  source: string,
  migrationsDir = join(PACKAGE_ROOT, 'migrations'),
): Promise<RestoreReport> {
  const file = resolve(source);
  if (isDbFile(dbFile, file)) throw new DcmError('invalid', `${file} is the database itself: name a backup`);
  try {
    if (!lstatSync(file).isFile()) throw new DcmError('invalid', `${file} is not a file: refused`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DcmError('not-found', `no such file: ${file}`);
    throw e;
  }
  const t0 = performance.now();
  const dir = dirname(dbFile);
  let tmp: string | null = null;
  let beforeTmp: string | null = null;
  try {
    // What is checked is what is restored: a private copy, which nobody can change meanwhile.
    tmp = privateTemp(dir, `${basename(dbFile)}.restore`);
    copyFileSync(file, tmp);
    const facts = settle(tmp, file);
    const known = readMigrations(migrationsDir);
    const i = facts.applied.findIndex((a, n) => known[n]?.name !== a.name || known[n]?.version !== a.version);
    if (i >= 0) {
      const tag = (m: { version: number; name: string }) => `${String(m.version).padStart(4, '0')}_${m.name}`;
      const theirs = tag(facts.applied[i]!);
      throw new DcmError(
        'invalid',
        known[i]
          ? `${file} has migration ${theirs} where this dcm has ${tag(known[i])}: refused`
          : `${file} was made by a newer dcm (it has migration ${theirs}, which this version does not know): refused`,
      );
    }
    let before: string | null = null;
    if (existsSync(dbFile)) {
      const live = Store.open(dbFile, { migrationsDir });
      try {
        const ours = live.installation.id;
        if (facts.installation !== ours)
          throw new DcmError(
            'denied',
            `${file} is a backup of another installation (${facts.installation.slice(0, 8)}, this one is ${ours.slice(0, 8)}): refused`,
          );
        // The database as it is now, kept beside it, whole and private.
        beforeTmp = privateTemp(dir, `${basename(dbFile)}.before-restore`);
        await live.copyTo(beforeTmp);
        settle(beforeTmp, 'the copy of the database');
        fsyncPath(beforeTmp);
        before = `${dbFile}.before-restore-${stamp()}`;
        renameSync(beforeTmp, before);
        beforeTmp = null;
      } finally {
        live.close();
      }
    }
    const src = new Database(tmp, { readonly: true, fileMustExist: true });
    try {
      await onlineCopy(src, dbFile);
    } finally {
      src.close();
    }
    // Opened as dcm opens it: an older backup is brought up to date here, and checked once more.
    const restored = Store.open(dbFile, { migrationsDir });
    try {
      const check = restored.integrityCheck();
      if (check !== 'ok') throw new DcmError('internal', `the restored database fails SQLite's integrity check: ${check}`);
    } finally {
      restored.close();
    }
    fsyncPath(dir);
    const { applied: _, ...rest } = facts;
    return { ...rest, file, dbFile, before, ms: Math.round(performance.now() - t0) };
  } catch (e) {
    throw explainStorageFailure(e, dbFile) ?? e;
  } finally {
    if (tmp) removeWithSideFiles(tmp);
    if (beforeTmp) removeWithSideFiles(beforeTmp);
  }
}
