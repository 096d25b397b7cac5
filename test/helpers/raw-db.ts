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
