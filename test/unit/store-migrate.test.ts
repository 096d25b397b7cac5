import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, readMigrations } from '../../src/store/migrate.js';
import { Store } from '../../src/store/store.js';
import { DcmError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { rawDb } from '../helpers/raw-db.js';

function dirWith(files: Record<string, string>): string {
  const d = tempDir('dcm-mig-');
  for (const [n, s] of Object.entries(files)) writeFileSync(join(d, n), s);
  return d;
}

test('shipped migrations apply to a fresh database and are recorded', () => {
  const d = tempDir('dcm-db-');
  const s = Store.open(join(d, 'dcm.db'));
  const raw = rawDb(s);
  const rows = raw.prepare('SELECT version, name FROM schema_migrations').all() as { version: number }[];
  assert.ok(rows.length >= 1);
  assert.equal(rows[0]!.version, 1);
  // WAL is a property of the file; foreign keys one of the store's own connection, so ask it.
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  assert.throws(
    () =>
      s.containers.insert({
        id: 20000,
        owner: 'nobody',
        name: null,
        image_ref: 'x:1',
        image_id: 'sha256:1',
        ip: '127.0.0.1',
        instance: 'i',
      }),
    /FOREIGN KEY/,
  );
  raw.close();
  s.close();
  // Re-opening applies nothing twice.
  const again = Store.open(join(d, 'dcm.db'));
  const raw2 = rawDb(again);
  assert.equal((raw2.prepare('SELECT COUNT(*) n FROM schema_migrations').get() as { n: number }).n, rows.length);
  raw2.close();
  again.close();
  rmSync(d, { recursive: true });
});

test('a gap in the numbering stops start-up', () => {
  const d = dirWith({ '0001_a.sql': 'CREATE TABLE a(x);', '0003_c.sql': 'CREATE TABLE c(x);' });
  assert.throws(
    () => readMigrations(d),
    (e: unknown) => e instanceof DcmError && /expected 0002/.test(e.message),
  );
});

test('a renamed applied migration and a newer database are refused', () => {
  const d = dirWith({ '0001_a.sql': 'CREATE TABLE a(x);', '0002_b.sql': 'CREATE TABLE b(x);' });
  const db = new Database(':memory:');
  migrate(db, d);
  renameSync(join(d, '0002_b.sql'), join(d, '0002_bee.sql'));
  assert.throws(() => migrate(db, d), /applied as "b" but the file is now "bee"/);
  rmSync(join(d, '0002_bee.sql'));
  assert.throws(() => migrate(db, d), /database is newer than this dcm/);
});

test('a failing migration leaves nothing half-applied', () => {
  const d = dirWith({ '0001_a.sql': 'CREATE TABLE a(x); CREATE TABLE a(y);' });
  const db = new Database(':memory:');
  assert.throws(() => migrate(db, d));
  const n = (db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'a'").get() as { n: number }).n;
  assert.equal(n, 0);
});

test('port allocations are unique per (ip, port) and go with their container', () => {
  const d = tempDir('dcm-db-');
  const s = Store.open(join(d, 'dcm.db'));
  s.users.insert({ name: 'alice', uid: 1000, gid: 1000 });
  const row = { id: 20000, owner: 'alice', name: null, image_ref: 'x:1', image_id: 'sha256:1', ip: '127.0.0.1', instance: 'i' };
  s.containers.insert(row);
  s.containers.addPort({ ip: '127.0.0.1', port: 20000, container_id: 20000, container_port: 22, kind: 'ssh' });
  s.containers.addPort({ ip: '127.0.0.2', port: 8080, container_id: 20000, container_port: 8080, kind: 'extra' });
  s.containers.insert({ ...row, id: 20001 });
  assert.throws(
    () => s.containers.addPort({ ip: '127.0.0.2', port: 8080, container_id: 20001, container_port: 8080, kind: 'extra' }),
    /UNIQUE/,
  );
  s.containers.addPort({ ip: '127.0.0.1', port: 8080, container_id: 20001, container_port: 8080, kind: 'extra' });
  s.containers.delete(20000);
  assert.deepEqual(
    s.containers.allPorts().map((p) => `${p.ip}:${p.port}`),
    ['127.0.0.1:8080'],
  );
  // A user with containers cannot be deleted out from under them.
  assert.throws(() => s.users.delete('alice'), /FOREIGN KEY/);
  s.close();
  rmSync(d, { recursive: true });
});
