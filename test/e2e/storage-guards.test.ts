/**
 * Storage and keys against the real engine, real OpenSSH and dcm-server:
 * a storage path turned into a link is never mounted (create, start,
 * restart); key changes are all-or-nothing and revocation really revokes
 * (containers and dcm-server, also for a re-added user over kept storage);
 * dcm-userdel blocks the user first, waits for creates in flight, and removes
 * storage without following the links a running container keeps swapping in.
 */
import { tp } from '../helpers/ports.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, run, sshInto, dockerInspect, BASE_IMAGE } from '../helpers/env.js';
import { ssh, sleep, startServer, type ServerProc } from '../helpers/ssh.js';
import { slowEngine, type SlowEngine } from '../helpers/slow-engine.js';

const SERVER_PORT = tp(31650);
const SLOW_SERVER_PORT = tp(31651);
const env = new TestEnv({ tag: 'stor', sshPorts: '31500-31549' });
let server: ServerProc;
const temps: string[] = [];

before(async () => {
  await env.registerBase();
  server = await startServer(env, SERVER_PORT);
});
after(async () => {
  await server?.stop();
  await env.cleanup();
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

const storageOf = (user: string) => join(env.stateDir, 'storage', user);

/** A host directory the attack aims at, holding a canary file. */
function canaryDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dcm-canary-'));
  temps.push(d);
  writeFileSync(join(d, 'canary'), 'host file\n');
  return d;
}

/** Swaps a storage directory for a link to `target`; returns the undo. */
function swapForLink(path: string, target: string): () => void {
  renameSync(path, `${path}.aside`);
  symlinkSync(target, path);
  return () => {
    rmSync(path);
    renameSync(`${path}.aside`, path);
  };
}

async function newKey(name: string): Promise<{ file: string; pub: string; fingerprint: string }> {
  const file = join(env.stateDir, `key-extra-${name}`);
  const g = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  assert.equal(g.code, 0, g.stderr);
  const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { file, pub: readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint: fp };
}

/** Containers of `owner` in this installation, as the engine lists them. */
async function engineContainers(e: TestEnv, owner: string): Promise<string[]> {
  const r = await run('docker', ['ps', '-aq', '--filter', `label=dcm.instance=${e.instance}`, '--filter', `label=dcm.owner=${owner}`]);
  return r.stdout.split('\n').filter(Boolean);
}

const dbOf = (e: TestEnv) => new Database(join(e.stateDir, 'dcm.db'), { readonly: true, fileMustExist: true });

function dbRows(e: TestEnv, sql: string, ...args: unknown[]): unknown[] {
  const db = dbOf(e);
  try {
    return db.prepare(sql).all(...args);
  } finally {
    db.close();
  }
}

const BIND_REFUSAL = (user: string) =>
  `dcm: your storage cannot be mounted safely: /home/${user} is a symbolic link on the host; ask the administrator\n`;

test('create refuses a storage home that is a link to a host directory: one line, no container, no row', async () => {
  await env.addUser('alice');
  const host = canaryDir();
  const undo = swapForLink(join(storageOf('alice'), 'home'), host);
  try {
    const r = await env.dcm('alice', 'create', '--name', 'linked');
    assert.equal(r.stderr, BIND_REFUSAL('alice'));
    assert.equal(r.code, 4);
    assert.deepEqual(await engineContainers(env, 'alice'), []);
    assert.deepEqual(dbRows(env, "SELECT id FROM containers WHERE owner = 'alice'"), []);
    assert.deepEqual(readdirSync(host), ['canary']);
  } finally {
    undo();
  }
  // The same create works once the storage is what dcm made.
  const ok = await env.dcmJson('alice', 'create', '--name', 'linked');
  assert.equal((await env.dcm('alice', 'rm', '-f', String(ok.id))).code, 0);
});

test('start and restart refuse a storage path swapped for a link; the container stays as it was', async () => {
  await env.addUser('amy');
  const c = await env.dcmJson('amy', 'create', '--name', 'swap');
  const dockerName = env.dockerName(c.id);
  const host = canaryDir();
  // Restart of a running container mounts again: refused, it keeps running untouched.
  const started = (await dockerInspect(dockerName)).State.StartedAt;
  let undo = swapForLink(join(storageOf('amy'), 'home'), host);
  try {
    const r = await env.dcm('amy', 'restart', 'swap');
    assert.equal(r.stderr, BIND_REFUSAL('amy'));
    assert.equal(r.code, 4);
  } finally {
    undo();
  }
  const still = (await dockerInspect(dockerName)).State;
  assert.equal(still.Status, 'running');
  assert.equal(still.StartedAt, started);
  // Stopped, then the link appears: start is refused, the container stays stopped.
  assert.equal((await env.dcm('amy', 'stop', 'swap')).code, 0);
  undo = swapForLink(join(storageOf('amy'), 'root'), host);
  try {
    const r = await env.dcm('amy', 'start', 'swap');
    assert.equal(r.stderr, 'dcm: your storage cannot be mounted safely: /root is a symbolic link on the host; ask the administrator\n');
    assert.equal(r.code, 4);
    assert.equal((await dockerInspect(dockerName)).State.Status, 'exited');
    const shown = await env.dcmJson('amy', 'show', 'swap');
    assert.equal(shown.state, 'exited');
    assert.deepEqual(dbRows(env, 'SELECT state FROM containers WHERE id = ?', c.id), [{ state: 'created' }]);
  } finally {
    undo();
  }
  assert.deepEqual(readdirSync(host), ['canary']);
  assert.equal((await env.dcm('amy', 'start', 'swap')).code, 0);
  assert.equal((await env.dcm('amy', 'rm', '-f', 'swap')).code, 0);
});

test('users key refused for home/.ssh (a link) keeps nothing: the key does not log in as root', async () => {
  const bob = await env.addUser('bob');
  const c = await env.dcmJson('bob', 'create');
  const plant = await sshInto(bob.keyFile, 'root', '127.0.0.1', c.sshPort, 'rm -rf /home/bob/.ssh && ln -s /tmp /home/bob/.ssh');
  assert.equal(plant.code, 0, plant.stderr);
  const k2 = await newKey('bob-second');
  const r = await env.tool('admin', 'users', 'key', 'bob', '--key', `${k2.file}.pub`);
  assert.equal(
    r.stderr,
    `dcm-admin users key: ${storageOf('bob')}/home/.ssh is a symbolic link or not a directory; refusing to follow it (remove it, e.g. from inside a container, and retry)\n`,
  );
  assert.equal(r.code, 1);
  // A key's base64 may hold + and /: look for its text, not a pattern made of it.
  assert.ok(
    !readFileSync(join(storageOf('bob'), 'root', '.ssh', 'authorized_keys'), 'utf8').includes(k2.pub.split(' ')[1]!),
    'the refused key is not in root/.ssh/authorized_keys',
  );
  const asRoot = await sshInto(k2.file, 'root', '127.0.0.1', c.sshPort, 'true');
  assert.equal(asRoot.code, 255, 'the refused key must not log in as root');
  const listed = JSON.parse((await env.tool('admin', 'users', 'key', 'bob', '--json')).stdout);
  assert.deepEqual(
    listed.keys.map((k: { comment: string }) => k.comment),
    ['bob@test'],
  );
  assert.equal((await env.dcm('bob', 'rm', '-f', String(c.id))).code, 0);
});

test('a revoked key opens neither the containers (root, user) nor dcm-server; --set removes every other line', async () => {
  const carol = await env.addUser('carol');
  const k2 = await newKey('carol-laptop');
  assert.equal((await env.tool('admin', 'users', 'key', 'carol', '--key', `${k2.file}.pub`)).code, 0);
  const c = await env.dcmJson('carol', 'create');
  for (const login of ['root', 'carol']) assert.equal((await sshInto(k2.file, login, '127.0.0.1', c.sshPort, 'true')).code, 0, login);
  assert.equal((await ssh(k2.file, SERVER_PORT, 'carol', ['whoami'])).code, 0);
  // The key holder adds the same key again with options of their own: it goes too.
  const again = await sshInto(k2.file, 'root', '127.0.0.1', c.sshPort, `echo 'no-pty ${k2.pub}' >> /root/.ssh/authorized_keys`);
  assert.equal(again.code, 0, again.stderr);

  const r = await env.tool('admin', 'users', 'key', 'carol', '--rm', k2.fingerprint);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.match(r.stdout, new RegExp(`^revoked key ssh-ed25519 ${k2.fingerprint.replace(/[+/]/g, '\\$&')}\n`));
  for (const login of ['root', 'carol']) assert.equal((await sshInto(k2.file, login, '127.0.0.1', c.sshPort, 'true')).code, 255, login);
  const srv = await ssh(k2.file, SERVER_PORT, 'carol', ['whoami']);
  assert.equal(srv.code, 255);
  assert.equal(srv.stderr.trim(), 'carol@127.0.0.1: Permission denied (publickey).');
  assert.equal((await sshInto(carol.keyFile, 'root', '127.0.0.1', c.sshPort, 'true')).code, 0, 'the other key still works');

  // A line added from inside (not a key dcm knows) survives --rm, but not --set.
  const k3 = await newKey('carol-planted');
  // (authorized_keys2, which sshd reads by default, is not read at all.)
  assert.equal(
    (
      await sshInto(
        carol.keyFile,
        'root',
        '127.0.0.1',
        c.sshPort,
        `echo '${k3.pub}' | tee -a /root/.ssh/authorized_keys > /root/.ssh/authorized_keys2`,
      )
    ).code,
    0,
  );
  assert.equal((await sshInto(k3.file, 'root', '127.0.0.1', c.sshPort, 'true')).code, 0);
  const set = await env.tool('admin', 'users', 'key', 'carol', '--set', `${carol.keyFile}.pub`);
  assert.equal(set.code, 0, set.stderr);
  assert.equal((await sshInto(k3.file, 'root', '127.0.0.1', c.sshPort, 'true')).code, 255);
  assert.equal((await sshInto(carol.keyFile, 'root', '127.0.0.1', c.sshPort, 'true')).code, 0);
  assert.equal(readFileSync(join(storageOf('carol'), 'root', '.ssh', 'authorized_keys'), 'utf8'), carol.pubKey + '\n');
  const unknown = await env.tool('admin', 'users', 'key', 'carol', '--rm', k3.fingerprint);
  assert.equal(unknown.stderr, `dcm-admin users key: carol has no key ${k3.fingerprint} (list them with dcm-admin users key carol)\n`);
  assert.equal(unknown.code, 3);
  assert.equal((await env.dcm('carol', 'rm', '-f', String(c.id))).code, 0);
});

test("a user re-added over kept storage gets only the new keys: the previous owner's keys open nothing", async () => {
  const old = await env.addUser('dora');
  const c = await env.dcmJson('dora', 'create');
  const planted = await newKey('dora-planted');
  assert.equal(
    (
      await sshInto(
        old.keyFile,
        'root',
        '127.0.0.1',
        c.sshPort,
        `for f in /root/.ssh/authorized_keys /root/.ssh/authorized_keys2 /home/dora/.ssh/authorized_keys /home/dora/.ssh/authorized_keys2; do echo '${planted.pub}' >> $f; done`,
      )
    ).code,
    0,
  );
  const del = await env.tool('userdel', 'dora', '--keep-storage');
  assert.equal(del.code, 0, del.stderr);
  assert.ok(existsSync(storageOf('dora')));
  const next = await newKey('dora-new-owner');
  const add = await env.tool('useradd', 'dora', '--key', `${next.file}.pub`);
  assert.equal(add.code, 0, add.stderr);
  const d = await env.dcmJson('dora', 'create');
  for (const key of [old.keyFile, planted.file]) {
    for (const login of ['root', 'dora'])
      assert.equal((await sshInto(key, login, '127.0.0.1', d.sshPort, 'true')).code, 255, `${key} as ${login}`);
  }
  assert.equal((await ssh(old.keyFile, SERVER_PORT, 'dora', ['whoami'])).code, 255);
  for (const login of ['root', 'dora']) assert.equal((await sshInto(next.file, login, '127.0.0.1', d.sshPort, 'true')).code, 0, login);
  assert.equal((await env.tool('userdel', 'dora')).code, 0);
});

/** Fills dir/t/d0..d5/sub with files, and the host directory with the same layout. */
function bait(home: string, host: string, files: number): void {
  const names = Array.from({ length: files }, (_, i) => `f${i}`);
  mkdirSync(join(host, 'sub'));
  execFileSync('xargs', ['touch'], { cwd: join(host, 'sub'), input: names.join('\n') });
  for (let k = 0; k < 6; k++) {
    mkdirSync(join(home, 't', `d${k}`, 'sub'), { recursive: true });
    execFileSync('xargs', ['touch'], { cwd: join(home, 't', `d${k}`, 'sub'), input: names.join('\n') });
  }
}

/** Swaps /H/t/d0..d5 for links to HOST and back, for SECONDS (perl: fast, in every Debian image). */
const SWAPPER = `my ($c, $h, $s) = @ARGV; my $end = time + $s; my @d = map { "$h/t/d$_" } 0..5;
while (time < $end) { for my $d (@d) { if (rename($d, "$d.x")) { symlink($c, $d); select(undef, undef, undef, 0.004); unlink($d); rename("$d.x", $d); } } }`;

test('userdel while containers keep swapping storage directories for links to a host directory: the host files survive, the user is gone', async () => {
  const erin = await env.addUser('erin');
  const host = canaryDir();
  const files = 1000;
  bait(join(storageOf('erin'), 'home'), host, files);
  const c = await env.dcmJson('erin', 'create');
  // The user's own container swaps, and so does one dcm does not manage (it
  // outlives the container removal, so the swapping goes on during the walk).
  const bg = await sshInto(
    erin.keyFile,
    'root',
    '127.0.0.1',
    c.sshPort,
    `nohup perl -e '${SWAPPER}' ${host} /home/erin 20 >/dev/null 2>&1 &`,
  );
  assert.equal(bg.code, 0, bg.stderr);
  const outside = await run('docker', [
    'run',
    '-d',
    '--label',
    `dcm.instance=${env.instance}`,
    '--entrypoint',
    'perl',
    '-v',
    `${join(storageOf('erin'), 'home')}:/h`,
    BASE_IMAGE,
    '-e',
    SWAPPER,
    host,
    '/h',
    '20',
  ]);
  assert.equal(outside.code, 0, outside.stderr);
  try {
    await sleep(1000);
    const r = await env.tool('userdel', 'erin', '--json');
    assert.equal(readdirSync(join(host, 'sub')).length, files, 'no host file was deleted');
    assert.ok(existsSync(join(host, 'canary')));
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout).containers, [c.id]);
    assert.equal(existsSync(storageOf('erin')), false);
    assert.deepEqual(await engineContainers(env, 'erin'), []);
    assert.deepEqual(dbRows(env, "SELECT name FROM users WHERE name = 'erin'"), []);
    assert.deepEqual(dbRows(env, "SELECT id FROM containers WHERE owner = 'erin'"), []);
    assert.deepEqual(dbRows(env, "SELECT id FROM user_keys WHERE user = 'erin'"), []);
  } finally {
    await run('docker', ['rm', '-f', outside.stdout.trim()]);
  }
});

test('userdel stops at a mount point inside the storage: the user stays blocked (no command, no login); run again, it completes', async () => {
  const gina = await env.addUser('gina');
  const mnt = join(storageOf('gina'), 'home', 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'dcm-test', mnt]);
  try {
    writeFileSync(join(mnt, 'other-filesystem'), 'keep\n');
    const r = await env.tool('userdel', 'gina');
    assert.equal(
      r.stderr,
      `dcm-userdel: gina is blocked but not deleted: ${storageOf('gina')} holds mount points (${mnt}); unmount them and run dcm-userdel again\n`,
    );
    assert.equal(r.code, 1);
    assert.equal(readFileSync(join(mnt, 'other-filesystem'), 'utf8'), 'keep\n', 'the walk never entered the other filesystem');
    const cmd = await env.dcm('gina', 'show');
    assert.equal(cmd.stderr, 'dcm: the account gina is being deleted by the administrator; no commands are accepted\n');
    assert.equal(cmd.code, 4);
    const login = await ssh(gina.keyFile, SERVER_PORT, 'gina', ['show']);
    assert.equal(login.code, 255);
    assert.equal(login.stderr.trim(), 'gina@127.0.0.1: Permission denied (publickey).');
    const listed = JSON.parse((await env.tool('admin', 'users', 'ls', '--json')).stdout) as { user: string; blocked: boolean }[];
    assert.equal(listed.find((u) => u.user === 'gina')?.blocked, true, 'users ls shows the user blocked');
  } finally {
    execFileSync('umount', [mnt]);
  }
  const again = await env.tool('userdel', 'gina');
  assert.equal(again.code, 0, again.stderr);
  assert.equal(existsSync(storageOf('gina')), false);
  assert.deepEqual(dbRows(env, "SELECT name FROM users WHERE name = 'gina'"), []);
});

test('userdel while a create is in flight (engine slow to create) leaves no container behind; the user is refused meanwhile', async () => {
  const slowEnv = new TestEnv({ tag: 'storslow', sshPorts: '31550-31599' });
  let proxy: SlowEngine | null = null;
  let slowServer: ServerProc | null = null;
  try {
    proxy = await slowEngine(join(slowEnv.stateDir, 'engine.sock'), 6000);
    writeFileSync(slowEnv.configFile, readFileSync(slowEnv.configFile, 'utf8') + `\nengine:\n  socket: ${proxy.socket}\n`);
    await slowEnv.registerBase();
    const fay = await slowEnv.addUser('fay');
    slowServer = await startServer(slowEnv, SLOW_SERVER_PORT);
    const creating = slowEnv.dcm('fay', 'create', '--json');
    const rowSeen = Date.now() + 20_000;
    while (dbRows(slowEnv, "SELECT id FROM containers WHERE owner = 'fay' AND state = 'creating'").length === 0) {
      assert.ok(Date.now() < rowSeen, 'the create never reserved its row');
      await sleep(50);
    }
    const deleting = slowEnv.tool('userdel', 'fay', '--json');
    let finished = false;
    void deleting.then(() => (finished = true));
    const isBlocked = () => (dbRows(slowEnv, "SELECT * FROM users WHERE name = 'fay'") as { blocked?: number }[])[0]?.blocked === 1;
    const blockedBy = Date.now() + 20_000;
    while (!isBlocked() && !finished && Date.now() < blockedBy) await sleep(50);
    const sawBlock = isBlocked();
    if (sawBlock) {
      // While userdel waits for the create, the user can neither run commands nor log in.
      const cmd = await slowEnv.dcm('fay', 'show');
      assert.equal(cmd.stderr, 'dcm: the account fay is being deleted by the administrator; no commands are accepted\n');
      assert.equal(cmd.code, 4);
      assert.equal((await ssh(fay.keyFile, SLOW_SERVER_PORT, 'fay', ['show'])).code, 255);
    }
    const [created, deleted] = await Promise.all([creating, deleting]);
    assert.deepEqual(
      await engineContainers(slowEnv, 'fay'),
      [],
      `no container left behind (create said: ${created.stderr.trim() || 'ok'})`,
    );
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(JSON.parse(deleted.stdout).containers.length, 1);
    assert.ok(sawBlock, 'userdel blocked the user while it waited for the create');
    assert.deepEqual(dbRows(slowEnv, "SELECT id FROM containers WHERE owner = 'fay'"), []);
    assert.deepEqual(dbRows(slowEnv, "SELECT name FROM users WHERE name = 'fay'"), []);
  } finally {
    await slowServer?.stop();
    await proxy?.close();
    await slowEnv.cleanup();
  }
});
