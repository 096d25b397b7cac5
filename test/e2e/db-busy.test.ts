/**
 * Another process holds the database's write lock (a real SQLite lock, taken
 * by a child process: db-lock.ts). dcm waits for it up to a bound
 * (BUSY_TIMEOUT_MS, 10 s): shorter, the command succeeds and its write is
 * there; longer, it says so in one line, exit 6, and nothing is made. Reads
 * never wait for it. Through the one-shot door and through dcm-server.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TestEnv, dockerInspect, run, type TestUser } from '../helpers/env.js';
import { endSuite, ssh, startSuite, type ServerProc } from '../helpers/ssh.js';
import { holdWriteLock } from '../helpers/db-lock.js';
import { integrityCheck } from '../helpers/raw-db.js';
import { BUSY_TIMEOUT_MS } from '../../src/store/db-errors.js';

const SERVER_PORT = tp(32700);
const SHORT_MS = 3000;
// Past the bound by a margin a loaded machine cannot eat: the command must give up, not outwait the lock.
const LONG_MS = BUSY_TIMEOUT_MS + 10_000;

const USER_BUSY = "dcm's database is busy: another program held it for more than 10 s; try again";

function rows(dbFile: string): { id: number; name: string | null; state: string; docker_id: string | null }[] {
  const d = new Database(dbFile, { readonly: true });
  try {
    return d.prepare('SELECT id, name, state, docker_id FROM containers ORDER BY id').all() as never;
  } finally {
    d.close();
  }
}

async function engineContainers(env: TestEnv): Promise<string[]> {
  const r = await run('docker', ['ps', '-aq', '--filter', `label=dcm.installation=${env.installationId()}`]);
  return r.stdout.split('\n').filter(Boolean);
}

describe('a locked database, no dcm-server', () => {
  const env = new TestEnv({ tag: 'dbbusy1', sshPorts: '32710-32729' });
  const db = () => join(env.stateDir, 'dcm.db');

  before(async () => {
    await env.registerBase();
    await env.addUser('alice');
  });
  after(() => env.cleanup());

  test('a lock shorter than the bound: create waits and its row is there; show does not wait at all', async () => {
    const lock = holdWriteLock(db(), SHORT_MS);
    try {
      const lockedAt = await lock.locked;
      const create = env.dcm('alice', 'create', '--name', 'patient', '--json');
      const show = await env.dcm('alice', 'show');
      const shownAt = Date.now();
      assert.equal(show.code, 0, show.stderr);
      const releasedAt = await lock.released;
      assert.ok(shownAt < releasedAt, `show answered ${shownAt - lockedAt} ms after the lock, before it was released`);
      const r = await create;
      assert.equal(r.code, 0, r.stderr);
      const made = JSON.parse(r.stdout);
      const row = rows(db()).find((x) => x.id === made.id);
      assert.equal(row?.state, 'created');
      assert.equal(row?.name, 'patient');
      assert.equal((await dockerInspect(row!.docker_id!))?.State.Status, 'running');
    } finally {
      lock.kill();
    }
    assert.equal(integrityCheck(db()), 'ok');
  });

  test('a lock held past the bound: one line naming the database, exit 6, nothing made', async () => {
    const before = rows(db());
    const containers = await engineContainers(env);
    const lock = holdWriteLock(db(), LONG_MS);
    try {
      await lock.locked;
      const t0 = Date.now();
      // The admin tools meet the same lock at the same time.
      const [r, tool] = await Promise.all([
        env.dcm('alice', 'create', '--name', 'impatient').then((x) => ({ ...x, waited: Date.now() - t0 })),
        env.tool('admin', 'users', 'group', 'alice', '--add', 'late'),
      ]);
      const waited = r.waited;
      assert.equal(r.code, 6, r.stderr);
      assert.equal(r.stderr, `dcm: database busy: ${db()} was locked by another process for more than 10 s (SQLITE_BUSY)\n`);
      assert.equal(r.stdout, '');
      assert.ok(waited >= BUSY_TIMEOUT_MS - 500 && waited < LONG_MS, `gave up after ${waited} ms`);
      assert.equal(tool.code, 6, tool.stderr);
      assert.equal(
        tool.stderr,
        `dcm-admin users group: database busy: ${db()} was locked by another process for more than 10 s (SQLITE_BUSY)\n`,
      );
      await lock.released;
    } finally {
      lock.kill();
    }
    assert.deepEqual(rows(db()), before, 'no row was added');
    assert.deepEqual(await engineContainers(env), containers, 'no container was made');
    assert.equal(integrityCheck(db()), 'ok');
  });
});

describe('a locked database under dcm-server', () => {
  const env = new TestEnv({ tag: 'dbbusy2', sshPorts: '32730-32749' });
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

  test('a lock taken in the middle of a create and held shorter than the bound: the create finishes and is recorded', async () => {
    // Taken the moment the create's row exists, before the engine has made the container.
    const lock = holdWriteLock(db(), SHORT_MS, "SELECT 1 FROM containers WHERE name = 'midway' AND state = 'creating'");
    try {
      const r = await ssh(alice.keyFile, SERVER_PORT, 'alice', ['create', '--name', 'midway', '--json']);
      assert.equal(r.code, 0, r.stderr);
      await lock.locked; // it did come in the middle
      const made = JSON.parse(r.stdout);
      const row = rows(db()).find((x) => x.id === made.id);
      assert.equal(row?.state, 'created');
      assert.equal((await dockerInspect(row!.docker_id!))?.State.Status, 'running');
    } finally {
      lock.kill();
    }
    assert.equal(integrityCheck(db()), 'ok');
  });

  test('a lock held past the bound: the user gets one line and exit 6, the server serves on, nothing is made', async () => {
    const before = rows(db());
    const containers = await engineContainers(env);
    const lock = holdWriteLock(db(), LONG_MS);
    try {
      await lock.locked;
      const logFrom = server.log().length;
      const r = await ssh(alice.keyFile, SERVER_PORT, 'alice', ['create', '--name', 'refused']);
      assert.equal(r.code, 6, r.stderr);
      assert.equal(r.stderr, `dcm: ${USER_BUSY}\n`);
      assert.match(
        server.log().slice(logFrom),
        /alice: create --name refused: .*\[database busy: .* was locked by another process for more than 10 s/,
      );
      // Reads go on while the lock is still held.
      const show = await ssh(alice.keyFile, SERVER_PORT, 'alice', ['show']);
      assert.equal(show.code, 0, show.stderr);
      await lock.released;
    } finally {
      lock.kill();
    }
    assert.deepEqual(rows(db()), before, 'no row was added');
    assert.deepEqual(await engineContainers(env), containers, 'no container was made');
    const again = await ssh(alice.keyFile, SERVER_PORT, 'alice', ['create', '--name', 'later']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(integrityCheck(db()), 'ok');
  });
});
