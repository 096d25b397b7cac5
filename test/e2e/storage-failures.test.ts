/**
 * When the disk under the state directory is full or the database read-only,
 * every door says so: an administrator (root's dcm --user, the admin tools,
 * dcm-server's log) gets what and where ("disk full: <db>"), a user a clear
 * line without host paths. And rm with a full disk reports exactly what
 * happened; reconcile then makes the row agree with the engine at once.
 *
 * Real failures: each state directory is a small tmpfs the test mounts
 * (remounted read-only, or filled with a file) and unmounts afterwards.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TestEnv, dockerInspect, run, type TestUser } from '../helpers/env.js';
import { doorBin, sleep, ssh, startServer, type ServerProc } from '../helpers/ssh.js';
import { fillDisk } from '../helpers/fill-disk.js';
import { integrityCheck } from '../helpers/raw-db.js';

const SERVER_PORT = tp(32400);

const USER_FULL = "the server's disk is full: nothing can be saved until the administrator frees space";
const USER_READONLY = "dcm's database is read-only: nothing can be saved until the administrator fixes it";

/** Puts a fresh tmpfs of `size` over the env's state dir, keeping its config file. */
async function onTmpfs(env: TestEnv, size: string): Promise<void> {
  const config = readFileSync(env.configFile);
  const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', env.stateDir]);
  assert.equal(r.code, 0, r.stderr);
  writeFileSync(env.configFile, config);
}

/** Removes the env's containers (their storage comes from the tmpfs), unmounts, cleans up. */
async function offTmpfs(env: TestEnv): Promise<void> {
  const ids = (await run('docker', ['ps', '-aq', '--filter', `label=dcm.instance=${env.instance}`])).stdout.split('\n').filter(Boolean);
  if (ids.length) await run('docker', ['rm', '-f', ...ids]);
  await run('umount', [env.stateDir]);
  await env.cleanup();
}

/** The user door as sudo leaves it: root, SUDO_USER set, paths fixed on the command line. */
const asUser = (env: TestEnv, user: string, command: string) =>
  run(process.execPath, [doorBin('dcm-shell'), '--state-dir', env.stateDir, '--config', env.configFile], {
    SUDO_USER: user,
    SSH_ORIGINAL_COMMAND: command,
  });

describe('a read-only database', () => {
  const env = new TestEnv({ tag: 'rodb', sshPorts: '32420-32439' });
  const db = () => join(env.stateDir, 'dcm.db');

  before(async () => {
    await onTmpfs(env, '8m');
    await env.addUser('alice');
    const r = await run('mount', ['-o', 'remount,ro', env.stateDir]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await run('mount', ['-o', 'remount,rw', env.stateDir]);
    await offTmpfs(env);
  });

  test('root and the admin tools are told the path; a user only what it means; dcm-server does not start', async () => {
    const admin = await env.dcm('alice', 'show');
    assert.equal(admin.code, 6, admin.stderr);
    assert.equal(admin.stderr, `dcm: database is read-only: ${db()} (read-only file system)\n`);
    const tool = await env.tool('admin', 'users', 'ls');
    assert.equal(tool.code, 6, tool.stderr);
    assert.equal(tool.stderr, `dcm-admin users ls: database is read-only: ${db()} (read-only file system)\n`);
    const user = await asUser(env, 'alice', 'show');
    assert.equal(user.code, 6, user.stderr);
    assert.equal(user.stderr, `dcm-shell: ${USER_READONLY}\n`);
    const server = await run(process.execPath, [doorBin('dcm-server'), '--listen', `127.0.0.1:${SERVER_PORT}`], env.env, 30_000);
    assert.equal(server.code, 6);
    assert.equal(server.stderr, `dcm-server: database is read-only: ${db()} (read-only file system)\n`);
    // Nothing was damaged: once writable again, SQLite finds the file whole.
    assert.equal((await run('mount', ['-o', 'remount,rw', env.stateDir])).code, 0);
    assert.equal(integrityCheck(db()), 'ok');
  });
});

describe('a full disk', () => {
  const env = new TestEnv({ tag: 'fulldisk', sshPorts: '32450-32479' });
  const db = () => join(env.stateDir, 'dcm.db');
  let server: ServerProc;
  let alice: TestUser;

  const row = (id: number) => {
    const d = new Database(db(), { readonly: true });
    try {
      return {
        container: d.prepare('SELECT state, docker_id FROM containers WHERE id = ?').get(id) as
          | { state: string; docker_id: string }
          | undefined,
        ports: (d.prepare('SELECT COUNT(*) AS n FROM port_allocations WHERE container_id = ?').get(id) as { n: number }).n,
      };
    } finally {
      d.close();
    }
  };

  before(async () => {
    await onTmpfs(env, '16m');
    await env.registerBase();
    alice = await env.addUser('alice');
    server = await startServer(env, SERVER_PORT);
  });
  after(async () => {
    await server?.stop();
    await offTmpfs(env);
  });

  test('every door says the disk is full: the admin with the path, the user without; nothing is half made', async () => {
    let fill = fillDisk(env.stateDir);
    try {
      const before = server.log().length;
      // Through dcm-server's command socket, as root: the administrator's line.
      const admin = await env.dcm('alice', 'create');
      assert.equal(admin.code, 6, admin.stderr);
      assert.equal(admin.stderr, `dcm: disk full: ${db()}\n`);
      // Over SSH, as the user: what it means, no path; the server logs where.
      const user = await ssh(alice.keyFile, SERVER_PORT, 'alice', ['create']);
      assert.equal(user.code, 6, user.stderr);
      assert.equal(user.stderr, `dcm: ${USER_FULL}\n`);
      assert.match(
        server.log().slice(before),
        new RegExp(`alice: create: ${USER_FULL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\[disk full: ${db()}\\]`),
      );
      // Without a server (stopped while there was space), each door opens the database itself.
      rmSync(fill);
      await server.stop();
      fill = fillDisk(env.stateDir);
      const oneShot = await env.dcm('alice', 'show');
      assert.equal(oneShot.code, 6, oneShot.stderr);
      assert.equal(oneShot.stderr, `dcm: disk full: ${db()}\n`);
      const oneShotUser = await asUser(env, 'alice', 'show');
      assert.equal(oneShotUser.code, 6, oneShotUser.stderr);
      assert.equal(oneShotUser.stderr, `dcm-shell: ${USER_FULL}\n`);
      const tool = await env.tool('useradd', 'bob', '--key', `${alice.keyFile}.pub`);
      assert.equal(tool.code, 6, tool.stderr);
      assert.equal(tool.stderr, `dcm-useradd: disk full: ${db()}\n`);
    } finally {
      rmSync(fill);
      if (server.proc.exitCode !== null) server = await startServer(env, SERVER_PORT);
    }
    const label = `label=dcm.instance=${env.instance}`;
    assert.equal((await run('docker', ['ps', '-aq', '--filter', label])).stdout.trim(), '', 'no container was made');
    assert.deepEqual(await env.dcmJson('alice', 'show'), []);
    assert.equal((await env.dcm('bob', 'show')).code, 4, 'bob was not half added');
    assert.equal(integrityCheck(db()), 'ok');
  });

  test('rm -f on a full disk before anything changed: refused with the reason, container and row untouched', async () => {
    const c = await env.dcmJson('alice', 'create');
    const fill = fillDisk(env.stateDir);
    try {
      const r = await env.dcm('alice', 'rm', '-f', String(c.id));
      assert.equal(r.code, 6, r.stderr);
      assert.equal(r.stderr, `dcm: disk full: ${db()}\n`);
    } finally {
      rmSync(fill);
    }
    const after = row(c.id);
    assert.equal(after.container?.state, 'created');
    assert.equal((await dockerInspect(after.container!.docker_id))?.State.Status, 'running');
    assert.equal((await env.dcm('alice', 'rm', '-f', String(c.id))).code, 0);
    assert.equal(integrityCheck(db()), 'ok');
  });

  test('rm -f when the disk fills while the engine removes: says the container is gone and the row is not, reconcile repairs it at once', async () => {
    const c = await env.dcmJson('alice', 'create');
    const dockerId = row(c.id).container!.docker_id;
    // Every later frame must grow the write-ahead log, as on a disk that filled up over time.
    const w = new Database(db());
    w.pragma('wal_checkpoint(TRUNCATE)');
    w.close();
    const rm = env.dcm('alice', 'rm', '-f', String(c.id));
    // The disk fills once the row says 'removing', while the engine removes the container.
    let fill: string | undefined;
    const end = Date.now() + 30_000;
    while (!fill && Date.now() < end) {
      if (row(c.id).container?.state === 'removing') fill = fillDisk(env.stateDir);
      else await sleep(2);
    }
    try {
      assert.ok(fill, 'rm never marked the row');
      const r = await rm;
      assert.equal(r.code, 6, r.stderr);
      assert.equal(
        r.stderr,
        `dcm: container ${c.id} was removed from the engine, but its row could not be deleted (disk full: ${db()}): it stays 'removing' until dcm-admin reconcile or another rm\n`,
      );
      assert.equal(await dockerInspect(dockerId), null, 'the engine removed it');
      assert.equal(row(c.id).container?.state, 'removing');
      // The user sees the same, in their words.
      const shown = await ssh(alice.keyFile, SERVER_PORT, 'alice', ['show', '--json']);
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal(JSON.parse(shown.stdout).find((x: { id: number }) => x.id === c.id)?.state, 'removing');
    } finally {
      if (fill) rmSync(fill);
    }
    const rec = await env.tool('admin', 'reconcile', '--json');
    assert.equal(rec.code, 0, rec.stderr);
    assert.deepEqual(JSON.parse(rec.stdout).staleReservations, [c.id]);
    assert.deepEqual(row(c.id), { container: undefined, ports: 0 });
    assert.equal(integrityCheck(db()), 'ok');
  });
});
