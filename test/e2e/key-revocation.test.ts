/**
 * Revocation against the real engine, real OpenSSH and dcm-server, when the
 * user (root in their container) has planted a link where .ssh should be:
 * the revocation stands in dcm logins, the admin is told in one line, the
 * user's containers are stopped and held until the admin repairs the files,
 * and afterwards the revoked key opens nothing. Also: images kept by
 * dcm-userdel --keep-images survive reconcile and dcm-server starts.
 */
import { tp } from '../helpers/ports.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TestEnv, run, sshInto, dockerInspect } from '../helpers/env.js';
import { ssh, startServer, type ServerProc } from '../helpers/ssh.js';

const SERVER_PORT = tp(31660);
const env = new TestEnv({ tag: 'revoke', sshPorts: '31600-31639' });
let server: ServerProc;

before(async () => {
  await env.registerBase();
  server = await startServer(env, SERVER_PORT);
});
after(async () => {
  await server?.stop();
  await env.cleanup();
});

const storageOf = (user: string) => join(env.stateDir, 'storage', user);

async function newKey(name: string): Promise<{ file: string; pub: string; fingerprint: string }> {
  const file = join(env.stateDir, `key-extra-${name}`);
  const g = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  assert.equal(g.code, 0, g.stderr);
  const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { file, pub: readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint: fp };
}

/** What root does inside the container: .ssh becomes a link to a copy it controls (sshd still reads it). */
const PLANT = (dir: string) =>
  `mkdir -m 700 /planted && cp ${dir}/.ssh/authorized_keys /planted/ && rm -rf ${dir}/.ssh && ln -s /planted ${dir}/.ssh`;

const HELD = (user: string) =>
  `dcm: a key of ${user} was revoked but their authorized_keys files refused the change: no container can be created or started until the administrator repairs them\n`;

test('a leaked key whose holder planted a link at /root/.ssh is still revoked: dcm-server refuses it, the container is stopped and held, and after the repair the key opens nothing', async () => {
  const alice = await env.addUser('alice');
  const leaked = await newKey('alice-leaked');
  assert.equal((await env.tool('admin', 'users', 'key', 'alice', '--key', `${leaked.file}.pub`)).code, 0);
  const c = await env.dcmJson('alice', 'create');
  const plant = await sshInto(leaked.file, 'root', '127.0.0.1', c.sshPort, PLANT('/root'));
  assert.equal(plant.code, 0, plant.stderr);
  assert.equal((await sshInto(leaked.file, 'root', '127.0.0.1', c.sshPort, 'true')).code, 0, 'the planted file still opens root');

  const r = await env.tool('admin', 'users', 'key', 'alice', '--rm', leaked.fingerprint);
  assert.equal(
    r.stderr,
    `dcm-admin users key: key ${leaked.fingerprint} revoked in dcm logins, but ${storageOf('alice')}/root/.ssh is a symbolic link or not a directory; refusing to follow it; alice's containers stopped (${c.id}) and held until you remove it and run dcm-admin users key alice --sync\n`,
  );
  assert.equal(r.code, 1);
  // dcm-server: refused at once.
  const srv = await ssh(leaked.file, SERVER_PORT, 'alice', ['whoami']);
  assert.equal(srv.code, 255);
  assert.equal(srv.stderr.trim(), 'alice@127.0.0.1: Permission denied (publickey).');
  // The container: stopped, and cannot be started or replaced by a new one.
  assert.equal((await dockerInspect(env.dockerName(c.id))).State.Status, 'exited');
  assert.equal((await sshInto(leaked.file, 'root', '127.0.0.1', c.sshPort, 'true')).code, 255);
  for (const cmd of [['start', String(c.id)], ['restart', String(c.id)], ['create']]) {
    const refused = await env.dcm('alice', ...cmd);
    assert.equal(refused.stderr, HELD('alice'), cmd.join(' '));
    assert.equal(refused.code, 4, cmd.join(' '));
  }
  assert.equal((await dockerInspect(env.dockerName(c.id))).State.Status, 'exited');
  const srvCmd = await ssh(alice.keyFile, SERVER_PORT, 'alice', ['start', String(c.id)]);
  assert.equal(srvCmd.stderr, HELD('alice'));
  assert.equal(srvCmd.code, 4);

  // The remedy the admin was told: remove the link, then --sync.
  rmSync(join(storageOf('alice'), 'root', '.ssh'));
  const sync = await env.tool('admin', 'users', 'key', 'alice', '--sync');
  assert.equal(sync.stderr, '');
  assert.equal(sync.code, 0);
  assert.match(sync.stdout, /^alice's authorized_keys files now hold exactly these keys:\n {2}ssh-ed25519 SHA256:\S+ alice@test\n$/);
  for (const dir of ['root', 'home'])
    assert.equal(readFileSync(join(storageOf('alice'), dir, '.ssh', 'authorized_keys'), 'utf8'), alice.pubKey + '\n', dir);
  assert.equal((await env.dcm('alice', 'start', String(c.id))).code, 0);
  for (const login of ['root', 'alice']) {
    assert.equal((await sshInto(leaked.file, login, '127.0.0.1', c.sshPort, 'true')).code, 255, `leaked key as ${login}`);
    assert.equal((await sshInto(alice.keyFile, login, '127.0.0.1', c.sshPort, 'true')).code, 0, `kept key as ${login}`);
  }
  assert.equal((await env.dcm('alice', 'rm', '-f', String(c.id))).code, 0);
});

test('--set refused by a link at home/.ssh still replaces the keys in dcm logins and holds the containers', async () => {
  const bea = await env.addUser('bea');
  const leaked = await newKey('bea-leaked');
  assert.equal((await env.tool('admin', 'users', 'key', 'bea', '--key', `${leaked.file}.pub`)).code, 0);
  const c = await env.dcmJson('bea', 'create');
  const plant = await sshInto(leaked.file, 'root', '127.0.0.1', c.sshPort, PLANT('/home/bea'));
  assert.equal(plant.code, 0, plant.stderr);
  const r = await env.tool('admin', 'users', 'key', 'bea', '--set', `${bea.keyFile}.pub`);
  assert.equal(
    r.stderr,
    `dcm-admin users key: keys replaced in dcm logins, but ${storageOf('bea')}/home/.ssh is a symbolic link or not a directory; refusing to follow it; bea's containers stopped (${c.id}) and held until you remove it and run dcm-admin users key bea --sync\n`,
  );
  assert.equal(r.code, 1);
  assert.equal((await ssh(leaked.file, SERVER_PORT, 'bea', ['whoami'])).code, 255);
  assert.equal((await ssh(bea.keyFile, SERVER_PORT, 'bea', ['whoami'])).code, 0);
  for (const login of ['root', 'bea']) assert.equal((await sshInto(leaked.file, login, '127.0.0.1', c.sshPort, 'true')).code, 255, login);
  const start = await env.dcm('bea', 'start', String(c.id));
  assert.equal(start.stderr, HELD('bea'));
  assert.equal(start.code, 4);
  assert.equal((await env.dcm('bea', 'rm', '-f', String(c.id))).code, 0);
});

test('images kept by dcm-userdel --keep-images stay in the engine through dcm-admin reconcile and a dcm-server start', async () => {
  await env.addUser('cora');
  const c = await env.dcmJson('cora', 'create');
  assert.equal((await env.dcm('cora', 'commit', String(c.id), 'snap')).code, 0);
  const db = new Database(join(env.stateDir, 'dcm.db'), { readonly: true });
  const { docker_id: imageId } = db.prepare("SELECT docker_id FROM images WHERE ref = 'dcm/u/cora/snap:latest'").get() as {
    docker_id: string;
  };
  db.close();
  const del = await env.tool('userdel', 'cora', '--keep-images');
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /^ {2}images kept in the engine: dcm\/u\/cora\/snap:latest$/m);
  const rec = await env.tool('admin', 'reconcile', '--json');
  assert.equal(rec.code, 0, rec.stderr);
  assert.deepEqual(JSON.parse(rec.stdout).imagesWithoutRow, []);
  assert.equal((await run('docker', ['image', 'inspect', '-f', '{{.Id}}', imageId])).stdout.trim(), imageId, 'kept through reconcile');
  const second = await startServer(env, tp(31661));
  await second.stop();
  const after = await run('docker', ['image', 'inspect', '-f', '{{.Id}} {{index .RepoTags 0}}', imageId]);
  assert.equal(after.stdout.trim(), `${imageId} dcm/u/cora/snap:latest`, 'kept through a dcm-server start');
});
