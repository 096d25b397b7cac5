/**
 * dcm on a Docker engine started with `--userns-remap` (its own second dockerd,
 * see helpers/remap-engine.ts): storage belongs to container root and the user
 * as the engine maps them, both logins, commit and create-from-commit work, a
 * setuid-root file made inside belongs to an unprivileged host uid, a uid the
 * engine's namespace cannot hold is refused with one line, and storage made
 * before the engine remapped users is re-owned at create.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, run, sshInto, type TestUser } from '../helpers/env.js';
import { startRemapEngine, type RemapEngine } from '../helpers/remap-engine.js';
import { tempDir } from '../helpers/tmp.js';

const SHARED_SOCKET = '/var/run/docker.sock';
let engine: RemapEngine;
const envs: TestEnv[] = [];

before(async () => {
  engine = await startRemapEngine();
});

after(async () => {
  for (const e of envs) {
    // Their objects live in the remap engine; TestEnv.cleanup() looks in the shared one (and finds nothing of theirs there).
    const label = `label=dcm.instance=${e.instance}`;
    const cs = (await engine.docker('ps', '-aq', '--filter', label)).stdout.split('\n').filter(Boolean);
    if (cs.length) await engine.docker('rm', '-f', ...cs);
    const is = [...new Set((await engine.docker('images', '-q', '--filter', label)).stdout.split('\n').filter(Boolean))];
    if (is.length) await engine.docker('rmi', '-f', ...is);
    await e.cleanup();
  }
  await engine?.stop();
});

/** A dcm installation whose engine is the remap engine (or, with `socket`, another). */
async function newEnv(tag: string, sshPorts: string, extraYaml = '', socket = engine.socket): Promise<TestEnv> {
  const e = new TestEnv({ tag, sshPorts, extraYaml: `engine: { socket: "${socket}" }\n${extraYaml}` });
  envs.push(e);
  return e;
}

/** Points an installation at another engine (the admin turned userns-remap on). */
function switchEngine(e: TestEnv, from: string, to: string): void {
  writeFileSync(e.configFile, readFileSync(e.configFile, 'utf8').replace(`socket: "${from}"`, `socket: "${to}"`));
}

async function uidOf(e: TestEnv, name: string): Promise<number> {
  const r = await e.tool('admin', 'users', 'ls', '--json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { user: string; uid: number }[]).find((u) => u.user === name)!.uid;
}

const owner = (path: string) => {
  const s = statSync(path);
  return `${s.uid}:${s.gid}`;
};

/** Runs a command over ssh in the container and returns its stdout lines, failing loudly. */
async function sshLines(u: TestUser, login: string, port: number, cmd: string): Promise<string[]> {
  const r = await sshInto(u.keyFile, login, '127.0.0.1', port, cmd);
  assert.equal(r.code, 0, `ssh ${login}: ${r.stderr}`);
  return r.stdout.trim().split('\n');
}

test('userns-remap engine: storage owned by the mapped ids; both logins, commit and create-from-commit work', async () => {
  const env = await newEnv('ursa', '31700-31719');
  await env.registerBase();
  const alice = await env.addUser('alice');
  const uid = await uidOf(env, 'alice');
  const b = engine.base;
  const store = join(env.stateDir, 'storage', 'alice');
  assert.equal(owner(join(store, 'root')), `${b}:${b}`, 'root/ belongs to container root as the engine maps it');
  assert.equal(owner(join(store, 'home')), `${b + uid}:${b + uid}`, 'home/ belongs to the user as the engine maps them');

  const c = await env.dcmJson('alice', 'create', '--name', 'one');
  assert.equal((await engine.docker('inspect', env.dockerName(c.id))).code, 0, 'the container is in the remap engine');
  assert.deepEqual(await sshLines(alice, 'root', c.sshPort, 'id -u; stat -c %u:%g /root /home/alice; echo baked > /opt/baked.txt'), [
    '0',
    '0:0',
    `${uid}:${uid}`,
  ]);
  assert.deepEqual(await sshLines(alice, 'alice', c.sshPort, 'id -un; id -u; echo hello > ~/note.txt; cat ~/note.txt'), [
    'alice',
    String(uid),
    'hello',
  ]);
  assert.equal(owner(join(store, 'home', 'note.txt')), `${b + uid}:${b + uid}`, "the file is the mapped user's on the host");

  const img = await env.dcmJson('alice', 'commit', 'one', 'snap:1');
  assert.equal(img.ref, 'dcm/u/alice/snap:1');
  const c2 = await env.dcmJson('alice', 'create', 'snap:1', '--name', 'two');
  assert.deepEqual(await sshLines(alice, 'root', c2.sshPort, 'whoami; cat /opt/baked.txt /home/alice/note.txt'), [
    'root',
    'baked',
    'hello',
  ]);
  assert.deepEqual(await sshLines(alice, 'alice', c2.sshPort, 'whoami; cat ~/note.txt'), ['alice', 'hello']);
});

test('userns-remap engine: a setuid-root file made inside, in storage or a rw mount, belongs to an unprivileged host uid', async () => {
  const shared = tempDir('dcm-remap-shared-');
  chmodSync(shared, 0o1777);
  // No nosuid here: allowed, because the engine remaps users.
  const env = await newEnv(
    'ursb',
    '31720-31729',
    `mounts:\n  shared: { source: ${shared}, target: /shared, mode: rw }\ndefaults:\n  mounts: { allow: [shared] }\n`,
  );
  await env.registerBase();
  const bob = await env.addUser('bob');
  const check = await env.tool('admin', 'policy', 'check');
  assert.equal(check.code, 0, check.stderr);
  const c = await env.dcmJson('bob', 'create', '--mount', 'shared');
  await sshLines(
    bob,
    'root',
    c.sshPort,
    'for d in /root /shared; do cp /bin/true $d/suid && chmod 4755 $d/suid; done; stat -c %u:%a /root/suid /shared/suid',
  );
  for (const f of [join(env.stateDir, 'storage', 'bob', 'root', 'suid'), join(shared, 'suid')]) {
    const s = statSync(f);
    assert.equal(s.mode & 0o4000, 0o4000, `${f} is setuid`);
    assert.equal(s.uid, engine.base, `${f} belongs to the engine's container root, not host root`);
    assert.notEqual(s.uid, 0);
  }
});

test('userns-remap engine: a uid outside its user namespace is refused with one line at useradd and at create', async () => {
  const lo = engine.count + 100; // beyond the remap account's range
  const range = `storage:\n  uid_range: "${lo}-${lo + 10}"\n`;
  const why = `is outside the engine's user namespace (${engine.user} ${engine.base}:${engine.count}): the administrator must give that account a larger range in /etc/subuid and /etc/subgid (covering storage.uid_range) and restart dockerd`;

  const env = await newEnv('ursc', '31730-31739', range);
  const key = join(env.stateDir, 'k');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const r = await env.tool('useradd', 'carol', '--key', `${key}.pub`);
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stderr, `dcm-useradd: uid ${lo} ${why}\n`);
  assert.equal((await uidOfAll(env)).length, 0, 'no user row');

  // A user added while the engine did not remap: create on the remap engine is refused, nothing made.
  const env2 = await newEnv('ursd', '31740-31749', range, SHARED_SOCKET);
  await env2.addUser('dan');
  switchEngine(env2, SHARED_SOCKET, engine.socket);
  await env2.registerBase();
  const cr = await env2.dcm('dan', 'create');
  assert.equal(cr.code, 4, cr.stderr);
  assert.equal(cr.stderr, `dcm: uid ${lo} ${why}\n`);
  assert.deepEqual(await env2.dcmJson('dan', 'show'), []);
  assert.equal((await engine.docker('ps', '-aq', '--filter', `label=dcm.instance=${env2.instance}`)).stdout.trim(), '');
});

async function uidOfAll(e: TestEnv): Promise<unknown[]> {
  const r = await e.tool('admin', 'users', 'ls', '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as unknown[];
}

test('storage made before the engine remapped users is re-owned at create: both logins work', async () => {
  const env = await newEnv('urse', '31750-31759', '', SHARED_SOCKET);
  const erin = await env.addUser('erin');
  const uid = await uidOf(env, 'erin');
  const store = join(env.stateDir, 'storage', 'erin');
  assert.equal(owner(join(store, 'root')), '0:0');
  assert.equal(owner(join(store, 'home')), `${uid}:${uid}`);

  switchEngine(env, SHARED_SOCKET, engine.socket);
  await env.registerBase();
  const c = await env.dcmJson('erin', 'create');
  const b = engine.base;
  for (const [dir, ids] of [
    ['root', b],
    ['home', b + uid],
  ] as const) {
    for (const p of ['', '.ssh', '.ssh/authorized_keys']) assert.equal(owner(join(store, dir, p)), `${ids}:${ids}`, `${dir}/${p}`);
  }
  assert.deepEqual(await sshLines(erin, 'root', c.sshPort, 'whoami'), ['root']);
  assert.deepEqual(await sshLines(erin, 'erin', c.sshPort, 'whoami'), ['erin']);
});
