/**
 * dcm-admin backup and restore on real database files: a backup taken while
 * dcm-server is creating a container is consistent (integrity_check) and
 * holds the rows of that moment, private (0600), whole or absent; restore
 * refuses what is not this installation's sound backup and brings back the
 * rows of its own, keeping the database it replaces.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TestEnv, type TestUser } from '../helpers/env.js';
import { endSuite, sleep, ssh, startSuite, type ServerProc } from '../helpers/ssh.js';
import { integrityCheck } from '../helpers/raw-db.js';
import { tempDir } from '../helpers/tmp.js';
import { mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';
import { fillDisk } from '../helpers/fill-disk.js';

const SERVER_PORT = tp(32750);

/** Reads a few facts straight from a database file. */
function look(file: string) {
  const d = new Database(file, { readonly: true });
  try {
    return {
      installation: (d.prepare('SELECT id FROM installation').get() as { id: string }).id,
      users: (d.prepare('SELECT name FROM users ORDER BY name').all() as { name: string }[]).map((r) => r.name),
      containers: d.prepare('SELECT id, name, state FROM containers ORDER BY id').all() as { id: number; name: string; state: string }[],
      groups: (d.prepare('SELECT user, grp FROM user_groups ORDER BY user, grp').all() as { user: string; grp: string }[]).map(
        (r) => `${r.user}:${r.grp}`,
      ),
    };
  } finally {
    d.close();
  }
}

const BACKED_UP = /^backed up (\S+) to (\S+) \((\d+) KiB, (\d+) users, (\d+) containers, (\d+) images\) in (\d+) ms\n$/;

describe('dcm-admin backup while dcm-server runs', () => {
  const env = new TestEnv({ tag: 'dbbackup', sshPorts: '32760-32779' });
  const db = () => join(env.stateDir, 'dcm.db');
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    ({
      server,
      users: [alice],
    } = await startSuite(env, SERVER_PORT, 'alice'));
  });
  after(() => endSuite(server, env));

  test('a backup taken while a create runs passes integrity_check and holds the rows of that moment; 0600', async () => {
    const out = join(tempDir('dcm-backup-'), 'dcm-backup.db');
    const create = ssh(alice.keyFile, SERVER_PORT, 'alice', ['create', '--name', 'inflight', '--json']);
    // The backup runs once the create's row is there and before the create has finished.
    const end = Date.now() + 30_000;
    while (!look(db()).containers.some((c) => c.name === 'inflight') && Date.now() < end) await sleep(5);
    const r = await env.tool('admin', 'backup', out);
    assert.equal(r.code, 0, r.stderr);
    const m = BACKED_UP.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(m[1], db());
    assert.equal(m[2], out);
    assert.equal(m[4], '1'); // users
    const made = await create;
    assert.equal(made.code, 0, made.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.equal(integrityCheck(out), 'ok');
    const copy = look(out);
    assert.equal(copy.installation, env.installationId());
    assert.deepEqual(copy.users, ['alice']);
    const row = copy.containers.find((c) => c.name === 'inflight');
    assert.ok(row, 'the create in flight is in the backup');
    assert.equal(row.id, JSON.parse(made.stdout).id);
    assert.equal(row.state, 'creating', 'as it was when the backup was taken');
    // Whole and self-contained: no journal or WAL beside it, nothing left in the directory.
    assert.deepEqual(readdirSync(join(out, '..')), ['dcm-backup.db']);
  });

  test('an existing FILE is refused without --force (untouched) and replaced with it', async () => {
    const dir = tempDir('dcm-backup-');
    const out = join(dir, 'taken.db');
    writeFileSync(out, 'an older file\n', { mode: 0o644 });
    const r = await env.tool('admin', 'backup', out);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `dcm-admin backup: ${out} exists: refused (--force replaces it)\n`);
    assert.equal(readFileSync(out, 'utf8'), 'an older file\n');
    const forced = await env.tool('admin', 'backup', out, '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.equal(integrityCheck(out), 'ok');
    assert.deepEqual(readdirSync(dir), ['taken.db']);
    // The database itself is never a target.
    const self = await env.tool('admin', 'backup', db(), '--force');
    assert.equal(self.code, 2, self.stderr);
    assert.equal(self.stderr, `dcm-admin backup: ${db()} is the database itself: choose another file\n`);
  });

  test('a backup onto a full disk: one line, exit 6, no file left behind, the database untouched', async () => {
    const dir = join(tempDir('dcm-backup-'), 'full');
    mountTmpfs(dir);
    try {
      const fill = fillDisk(dir);
      const out = join(dir, 'b.db');
      const r = await env.tool('admin', 'backup', out);
      assert.equal(r.code, 6, r.stderr);
      assert.equal(r.stderr, `dcm-admin backup: disk full: ${out}\n`);
      assert.deepEqual(readdirSync(dir), ['fill']);
      rmSync(fill);
    } finally {
      unmountTmpfs(dir);
    }
    assert.equal(integrityCheck(db()), 'ok');
    const show = await ssh(alice.keyFile, SERVER_PORT, 'alice', ['show']);
    assert.equal(show.code, 0, show.stderr);
  });

  test('restore is refused while dcm-server runs, and changes nothing', async () => {
    const out = join(tempDir('dcm-backup-'), 'b.db');
    assert.equal((await env.tool('admin', 'backup', out)).code, 0);
    const beforeRestore = look(db());
    const r = await env.tool('admin', 'restore', out);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, 'dcm-admin restore: dcm-server is running on this installation: stop it first, then restore\n');
    assert.deepEqual(look(db()), beforeRestore);
    assert.equal(readdirSync(env.stateDir).filter((f) => f.includes('restore')).length, 0, 'no copy was made and no temporary file left');
  });
});

describe('dcm-admin restore', () => {
  const env = new TestEnv({ tag: 'dbrestore', sshPorts: '32780-32789' });
  const other = new TestEnv({ tag: 'dbrestore2', sshPorts: '32790-32799' });
  const db = () => join(env.stateDir, 'dcm.db');

  before(async () => {
    await env.addUser('alice');
    await other.addUser('mallory');
  });
  after(async () => {
    await other.cleanup();
    await env.cleanup();
  });

  test("another installation's backup is refused with one line, exit 4; the database is untouched", async () => {
    const out = join(tempDir('dcm-restore-'), 'theirs.db');
    assert.equal((await other.tool('admin', 'backup', out)).code, 0);
    const was = look(db());
    const r = await env.tool('admin', 'restore', out);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(
      r.stderr,
      `dcm-admin restore: ${out} is a backup of another installation (${other.installationId().slice(0, 8)}, this one is ${env.installationId().slice(0, 8)}): refused\n`,
    );
    assert.deepEqual(look(db()), was);
    assert.deepEqual(
      readdirSync(env.stateDir).filter((f) => f.startsWith('.') || f.includes('restore')),
      [],
      'no copy kept, no temporary file left',
    );
  });

  test('a damaged file, a file that is not a database and one from a newer dcm are refused, exit 2', async () => {
    const dir = tempDir('dcm-restore-');
    const good = join(dir, 'good.db');
    assert.equal((await env.tool('admin', 'backup', good)).code, 0);
    // Damaged: a page of the users table overwritten with garbage.
    const damaged = join(dir, 'damaged.db');
    copyFileSync(good, damaged);
    const d = new Database(damaged);
    const page = (d.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'user_keys'").get() as { rootpage: number }).rootpage;
    const size = d.pragma('page_size', { simple: true }) as number;
    d.close();
    const bytes = readFileSync(damaged);
    bytes.fill(0x5a, (page - 1) * size + 8, page * size - 8);
    writeFileSync(damaged, bytes);
    const notDb = join(dir, 'notes.txt');
    writeFileSync(notDb, 'these are not the rows you are looking for\n'.repeat(200));
    const newer = join(dir, 'newer.db');
    copyFileSync(good, newer);
    const n = new Database(newer);
    n.prepare("INSERT INTO schema_migrations (version, name) VALUES (99, 'from_the_future')").run();
    n.close();
    const was = look(db());
    for (const [file, line] of [
      [damaged, `${damaged} is damaged (SQLite's integrity check fails): refused`],
      [notDb, `${notDb} is not a database: refused`],
      [newer, `${newer} was made by a newer dcm (it has migration 0099_from_the_future, which this version does not know): refused`],
    ] as const) {
      const r = await env.tool('admin', 'restore', file);
      assert.equal(r.code, 2, `${file}: ${r.stderr}`);
      assert.equal(r.stderr, `dcm-admin restore: ${line}\n`);
    }
    assert.deepEqual(look(db()), was);
    assert.equal(integrityCheck(db()), 'ok');
  });

  test('its own backup brings the rows back; the database it replaced is kept, 0600', async () => {
    const out = join(tempDir('dcm-restore-'), 'ours.db');
    assert.equal((await env.tool('admin', 'users', 'group', 'alice', '--add', 'kept')).code, 0);
    assert.equal((await env.tool('admin', 'backup', out)).code, 0);
    const backedUp = look(db());
    // Changes after the backup: a user added, a group taken away.
    await env.addUser('bob');
    assert.equal((await env.tool('admin', 'users', 'group', 'alice', '--rm', 'kept')).code, 0);
    const changed = look(db());
    assert.deepEqual(changed.users, ['alice', 'bob']);
    const r = await env.tool('admin', 'restore', out);
    assert.equal(r.code, 0, r.stderr);
    const m =
      /^restored (\S+) from (\S+) \((\d+) users, \d+ containers, \d+ images\) in \d+ ms; the database as it was is kept in (\S+)\n$/.exec(
        r.stdout,
      );
    assert.ok(m, r.stdout);
    assert.deepEqual([m[1], m[2], m[3]], [db(), out, String(backedUp.users.length)]);
    const kept = m[4]!;
    assert.match(kept, new RegExp(`^${db().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.before-restore-\\d{8}T\\d{6}Z$`));
    assert.deepEqual(look(db()), backedUp);
    assert.ok(look(db()).groups.includes('alice:kept'));
    assert.equal(integrityCheck(db()), 'ok');
    assert.deepEqual(look(kept), changed);
    assert.equal(statSync(kept).mode & 0o777, 0o600);
    assert.equal(integrityCheck(kept), 'ok');
    assert.ok(!existsSync(`${kept}-wal`));
    // dcm works on the restored database: bob is gone, alice is there.
    assert.equal((await env.dcm('alice', 'show')).code, 0);
    assert.equal((await env.dcm('bob', 'show')).code, 4);
  });
});
