/**
 * Applies migrations/NNNN_name.sql in order. Fails closed: a gap in the
 * numbering, a file renamed after it was applied, or a database newer than
 * this dcm stops start-up with a clear error instead of guessing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { DcmError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function readMigrations(dir: string): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const list: Migration[] = [];
  for (const f of files) {
    const m = FILE_RE.exec(f);
    if (!m) throw new DcmError('config', `migration file name not of the form NNNN_name.sql: ${f}`);
    list.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, f), 'utf8') });
  }
  list.forEach((mig, i) => {
    if (mig.version !== i + 1) {
      throw new DcmError(
        'config',
        `migrations out of order or missing: expected ${String(i + 1).padStart(4, '0')}, found ${f4(mig.version)}_${mig.name}.sql`,
      );
    }
  });
  return list;
}

const f4 = (n: number) => String(n).padStart(4, '0');

export function migrate(db: Database.Database, dir = join(PACKAGE_ROOT, 'migrations')): void {
  const wanted = readMigrations(dir);
  // Opening an up-to-date database only reads: a one-shot `dcm show` must not
  // wait for another process's write lock (WAL lets it read meanwhile).
  if (upToDate(db, wanted)) return;
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))`);
  const apply = db.transaction(() => {
    const applied = appliedMigrations(db);
    applied.forEach((a, i) => {
      const w = wanted[i];
      if (a.version !== i + 1) throw new DcmError('config', `database migration history has a gap before ${f4(a.version)}_${a.name}`);
      if (!w)
        throw new DcmError(
          'config',
          `database is newer than this dcm: it has migration ${f4(a.version)}_${a.name}, which this version does not know`,
        );
      if (w.name !== a.name)
        throw new DcmError('config', `migration ${f4(a.version)} was applied as "${a.name}" but the file is now "${w.name}"`);
    });
    for (const m of wanted.slice(applied.length)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(m.version, m.name);
    }
  });
  apply.immediate();
}

/** Every wanted migration applied, under the same names, and none beyond them (else migrate's checks decide). */
function upToDate(db: Database.Database, wanted: Migration[]): boolean {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) return false;
  const applied = appliedMigrations(db);
  return applied.length === wanted.length && applied.every((a, i) => a.version === wanted[i]!.version && a.name === wanted[i]!.name);
}

/** The migrations applied to `db`, oldest first (its schema_migrations table must exist). */
export function appliedMigrations(db: Database.Database): { version: number; name: string }[] {
  return db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as { version: number; name: string }[];
}
