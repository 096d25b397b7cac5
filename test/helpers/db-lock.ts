/**
 * Another process holding the database's write lock: a child Node process
 * with its own better-sqlite3 connection runs BEGIN IMMEDIATE, holds the lock
 * for a given time, then commits, as a stuck tool or an admin's open
 * `sqlite3` session would. The lock is real (SQLite's file locks), so dcm
 * meets it exactly as it would in production.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const SQLITE = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * The child: waits (polling, bounded) until `whenSql` returns a row, if given,
 * then takes the write lock, says "locked", sleeps, commits, says "released".
 */
const CHILD = `
const Database = require(process.env.SQLITE_MODULE);
const db = new Database(process.env.DB_FILE);
db.pragma('busy_timeout = 30000');
const when = process.env.WHEN_SQL;
const deadline = Date.now() + 60000;
const poll = () => {
  if (when && !db.prepare(when).get()) {
    if (Date.now() > deadline) { console.log('never'); process.exit(3); }
    return setTimeout(poll, 5);
  }
  db.exec('BEGIN IMMEDIATE');
  console.log('locked');
  setTimeout(() => { db.exec('COMMIT'); db.close(); console.log('released'); }, Number(process.env.HOLD_MS));
};
poll();
`;

export interface HeldLock {
  /** Resolves when the child holds the write lock (ms since the epoch). */
  locked: Promise<number>;
  /** Resolves when the child has committed and let go (ms since the epoch). */
  released: Promise<number>;
  /** The child's pid, to stop it early (by pid) if a test fails. */
  pid: number;
  kill(): void;
}

/** Holds `dbFile`'s write lock for `holdMs` from another process, from the moment `whenSql` (if any) finds a row. */
export function holdWriteLock(dbFile: string, holdMs: number, whenSql?: string): HeldLock {
  const child = spawn(process.execPath, ['-e', CHILD], {
    env: { ...process.env, SQLITE_MODULE: SQLITE, DB_FILE: dbFile, HOLD_MS: String(holdMs), WHEN_SQL: whenSql ?? '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const waiters: { word: string; resolve: (t: number) => void }[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    out += d;
    for (const w of waiters.splice(0)) {
      if (out.includes(w.word)) w.resolve(Date.now());
      else waiters.push(w);
    }
  });
  const wait = (word: string) =>
    Promise.race([
      new Promise<number>((resolve) => waiters.push({ word, resolve })),
      exited.then((code) => (out.includes(word) ? Date.now() : Promise.reject(new Error(`lock holder exited ${code}: ${out}`)))),
    ]);
  const locked = wait('locked');
  const released = wait('released');
  // A test that fails early may never await them; the failure it reports is its own.
  locked.catch(() => {});
  released.catch(() => {});
  return {
    locked,
    released,
    pid: child.pid!,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
