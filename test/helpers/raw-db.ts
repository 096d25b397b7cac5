/**
 * A second, plain connection to a store's database file, for tests that must
 * set up a state no repository offers (a deleted row, a cleared column) or
 * read a table directly. The Store keeps its own handle private.
 */
import Database from 'better-sqlite3';
import type { Store } from '../../src/store/store.js';

export function rawDb(store: Store): Database.Database {
  const db = new Database(store.path);
  db.pragma('busy_timeout = 10000');
  return db;
}

/** SQLite's own check of a database file: "ok", or the first problems it found. */
export function integrityCheck(dbFile: string): string {
  const db = new Database(dbFile, { readonly: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}
