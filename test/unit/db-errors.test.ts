/**
 * Which failures count as the disk's or the database's (db-errors.ts), and
 * which stay what they were: a bug stays "internal error", an engine socket's
 * EACCES is not blamed on the database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DcmError, exitCodeFor, userLine } from '../../src/errors.js';
import { StorageFailure, explainStorageFailure, lineFor, removedButNotRecorded } from '../../src/store/db-errors.js';
import { tempDir } from '../helpers/tmp.js';

const sqliteError = (code: string, message: string) => Object.assign(new Error(message), { code });

test('SQLITE_FULL and ENOSPC are a full disk: exit 6, the user line has no path, the admin line has it', () => {
  const db = join(tempDir('dcm-dberr-'), 'dcm.db');
  for (const e of [
    sqliteError('SQLITE_FULL', 'database or disk is full'),
    Object.assign(new Error('no space'), { code: 'ENOSPC', path: db }),
  ]) {
    const f = explainStorageFailure(e, db);
    assert.ok(f instanceof StorageFailure);
    assert.equal(exitCodeFor(f), 6);
    assert.equal(userLine(f), "the server's disk is full: nothing can be saved until the administrator frees space");
    assert.equal(lineFor(f, true), `disk full: ${db}`);
    assert.equal(lineFor(f, false), userLine(f));
  }
});

test('a read-only database names its cause when the file system can tell', () => {
  const db = join(tempDir('dcm-dberr-'), 'dcm.db');
  const f = explainStorageFailure(sqliteError('SQLITE_READONLY', 'attempt to write a readonly database'), db)!;
  assert.equal(f.problem, 'read-only');
  assert.equal(userLine(f), "dcm's database is read-only: nothing can be saved until the administrator fixes it");
  assert.match(f.detail, new RegExp(`^database is read-only: ${db} \\(`));
});

test('not the disk: constraint errors, bugs, refusals and EACCES away from the database stay as they were', () => {
  const db = join(tempDir('dcm-dberr-'), 'dcm.db');
  assert.equal(explainStorageFailure(sqliteError('SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed'), db), null);
  assert.equal(explainStorageFailure(new TypeError('x is undefined'), db), null);
  assert.equal(explainStorageFailure(new DcmError('denied', 'no'), db), null);
  assert.equal(
    explainStorageFailure(Object.assign(new Error('connect EACCES'), { code: 'EACCES', path: '/var/run/docker.sock' }), db),
    null,
  );
  assert.equal(lineFor(new TypeError('x'), true), 'internal error (the administrator can find details in the log)');
});

test('a removal the database could not record says so for both audiences', () => {
  const db = join(tempDir('dcm-dberr-'), 'dcm.db');
  const f = removedButNotRecorded(20005, sqliteError('SQLITE_FULL', 'database or disk is full'), db);
  assert.equal(exitCodeFor(f), 6);
  assert.equal(
    userLine(f),
    "container 20005 was removed, but dcm could not record it (the server's disk is full): it shows as removing until the administrator runs dcm-admin reconcile",
  );
  assert.equal(
    lineFor(f, true),
    `container 20005 was removed from the engine, but its row could not be deleted (disk full: ${db}): it stays 'removing' until dcm-admin reconcile or another rm`,
  );
});

test('a read-only file that is not the database is the storage, for users too', () => {
  const dir = tempDir('dcm-dberr-');
  const f = explainStorageFailure(
    Object.assign(new Error('read-only'), { code: 'EROFS', path: join(dir, 'storage', 'alice', 'home') }),
    join(dir, 'dcm.db'),
  )!;
  assert.equal(userLine(f), "dcm's storage is read-only: nothing can be saved until the administrator fixes it");
  assert.equal(f.detail, `storage is read-only: ${join(dir, 'storage', 'alice', 'home')} (read-only file system)`);
  // EACCES in a user's storage is not the database's problem: it stays what it was.
  assert.equal(
    explainStorageFailure(Object.assign(new Error('denied'), { code: 'EACCES', path: join(dir, 'storage', 'alice') }), join(dir, 'dcm.db')),
    null,
  );
});

test('SQLITE_BUSY past the bound is "database busy": exit 6, the wait named, the path for the administrator only', () => {
  const db = join(tempDir('dcm-dberr-'), 'dcm.db');
  for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED']) {
    const f = explainStorageFailure(sqliteError(code, 'database is locked'), db)!;
    assert.equal(f.problem, 'busy');
    assert.equal(exitCodeFor(f), 6);
    assert.equal(userLine(f), "dcm's database is busy: another program held it for more than 10 s; try again");
    assert.equal(f.detail, `database busy: ${db} was locked by another process for more than 10 s (${code})`);
  }
});
