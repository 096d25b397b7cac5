/**
 * The core, end to end on the real engine with the real OpenSSH client:
 * create → ssh as root and as the user → storage shared and kept → lifecycle
 * → commit → create from the commit → rmi rules → rm.
 */
import { tp } from '../helpers/ports.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, sshInto, dockerInspect, type TestUser } from '../helpers/env.js';

const env = new TestEnv({ tag: 'core', sshPorts: '30100-30149' });
let alice: TestUser;

before(async () => {
  await env.registerBase();
  alice = await env.addUser('alice');
});
after(() => env.cleanup());

test('useradd lays out storage with the key, owners and modes sshd accepts', async () => {
  const who = await env.dcmJson<{ uid: number; gid: number }>('alice', 'whoami');
  const base = join(env.stateDir, 'storage', 'alice');
  const root = statSync(join(base, 'root'));
  const home = statSync(join(base, 'home'));
  assert.equal(root.uid, 0);
  assert.equal(root.mode & 0o777, 0o700);
  assert.equal(home.uid, who.uid);
  assert.equal(home.gid, who.gid);
  assert.equal(home.mode & 0o022, 0, 'home must not be group/world-writable');
  for (const d of ['root', 'home']) {
    const f = join(base, d, '.ssh', 'authorized_keys');
    assert.equal(readFileSync(f, 'utf8').trim(), alice.pubKey);
    assert.equal(statSync(f).mode & 0o777, 0o600);
  }
});

test('create prints how to connect; root and user logins work at once; storage is shared', async () => {
  const text = await env.dcm('alice', 'create', '--name', 'one');
  assert.equal(text.code, 0, text.stderr);
  const id = Number(/container (\d+)/.exec(text.stdout)![1]);
  assert.match(text.stdout, new RegExp(`ssh -p ${id} root@127\\.0\\.0\\.1`));
  assert.match(text.stdout, new RegExp(`ssh -p ${id} alice@127\\.0\\.0\\.1`));

  const asRoot = await sshInto(alice.keyFile, 'root', '127.0.0.1', id, 'id -u; echo from-one > /root/r.txt');
  assert.equal(asRoot.code, 0, asRoot.stderr);
  assert.equal(asRoot.stdout.trim(), '0');
  const home = statSync(join(env.stateDir, 'storage', 'alice', 'home'));
  const asUser = await sshInto(alice.keyFile, 'alice', '127.0.0.1', id, 'id -u; id -g; echo hello > ~/h.txt; pwd');
  assert.equal(asUser.code, 0, asUser.stderr);
  assert.deepEqual(asUser.stdout.trim().split('\n'), [String(home.uid), String(home.gid), '/home/alice']);

  const two = await env.dcmJson('alice', 'create', '--name', 'two');
  assert.equal(two.state, 'running');
  assert.notEqual(two.sshPort, id);
  for (const k of ['id', 'name', 'image', 'state', 'host', 'sshPort', 'ports']) assert.ok(k in two, k);
  const seen = await sshInto(alice.keyFile, 'alice', '127.0.0.1', two.sshPort, 'cat ~/h.txt; sudo -n true 2>/dev/null || echo nosudo');
  assert.equal(seen.stdout.split('\n')[0], 'hello');
  const seenRoot = await sshInto(alice.keyFile, 'root', '127.0.0.1', two.sshPort, 'cat /root/r.txt');
  assert.equal(seenRoot.stdout.trim(), 'from-one');

  // Files outlive the container.
  assert.equal((await env.dcm('alice', 'rm', '-f', 'one')).code, 0);
  assert.equal(readFileSync(join(env.stateDir, 'storage', 'alice', 'home', 'h.txt'), 'utf8'), 'hello\n');
  assert.equal((await env.dcm('alice', 'rm', '-f', 'two')).code, 0);
});

test('the container is hardened exactly as designed', async () => {
  const c = await env.dcmJson('alice', 'create', '--name', 'hard');
  const i = await dockerInspect(env.dockerName(c.id));
  assert.ok(i, 'container exists under its dcm name');
  const h = i.HostConfig;
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.deepEqual([...h.CapAdd].sort(), [
    'AUDIT_WRITE',
    'CHOWN',
    'DAC_OVERRIDE',
    'FOWNER',
    'KILL',
    'NET_BIND_SERVICE',
    'SETGID',
    'SETUID',
    'SYS_CHROOT',
  ]);
  assert.ok(h.SecurityOpt.includes('no-new-privileges:true'));
  assert.equal(h.Privileged, false);
  assert.equal(h.PidsLimit, 1024);
  assert.equal(h.Memory, 2 * 1024 ** 3);
  assert.equal(h.LogConfig.Config['max-size'], '10m');
  assert.deepEqual(h.Devices ?? [], []);
  assert.notEqual(h.NetworkMode, 'host');
  assert.notEqual(h.PidMode, 'host');
  const binds = [...h.Binds].sort();
  assert.equal(binds.length, 3);
  assert.ok(binds.some((b: string) => b.endsWith(':/root:rw')));
  assert.ok(binds.some((b: string) => b.endsWith(':/home/alice:rw')));
  assert.ok(binds.some((b: string) => b.endsWith(':/usr/local/lib/dcm/init:ro')));
  assert.deepEqual(h.PortBindings, { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: String(c.id) }] });
  assert.equal(i.Config.Labels['dcm.owner'], 'alice');
  assert.equal(i.Config.Labels['dcm.id'], String(c.id));
  assert.equal(i.Config.Labels['dcm.managed'], '1');
  assert.equal((await env.dcm('alice', 'rm', '-f', String(c.id))).code, 0);
});

test('lifecycle: stop, start, restart, pause, unpause, logs; host key kept across restart', async () => {
  const c = await env.dcmJson('alice', 'create', '--name', 'life');
  const key1 = (await sshInto(alice.keyFile, 'root', '127.0.0.1', c.id, 'cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout;
  assert.match(key1, /^ssh-ed25519 /);
  assert.equal((await env.dcmJson('alice', 'stop', 'life')).state, 'exited');
  const down = await sshInto(alice.keyFile, 'root', '127.0.0.1', c.id, 'true');
  assert.equal(down.code, 255, "nothing answers on a stopped container's port");
  assert.match(down.stderr, new RegExp(`port ${c.id}: Connection refused`));
  assert.equal((await env.dcmJson('alice', 'start', String(c.id))).state, 'running');
  const key2 = (await sshInto(alice.keyFile, 'root', '127.0.0.1', c.id, 'cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout;
  assert.equal(key2, key1);
  assert.equal((await env.dcmJson('alice', 'pause', 'life')).state, 'paused');
  const stopPaused = await env.dcm('alice', 'stop', 'life');
  assert.equal(stopPaused.code, 1);
  assert.equal(stopPaused.stderr, `dcm: container ${c.id} is paused: unpause it first\n`);
  assert.equal((await env.dcmJson('alice', 'unpause', 'life')).state, 'running');
  assert.equal((await env.dcmJson('alice', 'restart', 'life')).state, 'running');
  assert.equal((await sshInto(alice.keyFile, 'alice', '127.0.0.1', c.id, 'true')).code, 0);
  const logs = await env.dcm('alice', 'logs', 'life', '--tail', '50');
  assert.equal(logs.code, 0);
  assert.match(logs.stdout, /Server listening|sshd/);
  const list = await env.dcmJson('alice', 'show');
  assert.deepEqual(
    list.map((x: { name: string }) => x.name),
    ['life'],
  );
  const running = await env.dcm('alice', 'rm', 'life');
  assert.equal(running.code, 1);
  assert.equal(running.stderr, `dcm: container ${c.id} is running: stop it first, or use rm -f\n`);
  assert.equal((await env.dcm('alice', 'rm', '-f', 'life')).code, 0);
  assert.equal(await dockerInspect(env.dockerName(c.id)), null);
});

test('commit → create from the new image → rmi refused while used, then removed', async () => {
  const c = await env.dcmJson('alice', 'create', '--name', 'src');
  const mark = await sshInto(
    alice.keyFile,
    'root',
    '127.0.0.1',
    c.id,
    'echo baked > /etc/dcm-baked; cat /etc/ssh/ssh_host_ed25519_key.pub',
  );
  assert.equal(mark.code, 0, mark.stderr);
  const img = await env.dcmJson('alice', 'commit', 'src', 'baked:v1');
  assert.equal(img.ref, 'dcm/u/alice/baked:v1');
  const imgs = await env.dcmJson('alice', 'images');
  assert.deepEqual(
    imgs.map((i: { name: string; kind: string }) => `${i.name}/${i.kind}`),
    ['dcm/debian-base:bookworm/base', 'baked:v1/own'],
  );
  const d = await env.dcmJson('alice', 'create', 'baked:v1', '--name', 'fromcommit');
  const inside = await sshInto(alice.keyFile, 'root', '127.0.0.1', d.id, 'cat /etc/dcm-baked; cat /etc/ssh/ssh_host_ed25519_key.pub');
  assert.equal(inside.code, 0, inside.stderr);
  const [baked, hostKey] = inside.stdout.trim().split('\n');
  assert.equal(baked, 'baked');
  assert.notEqual(hostKey, mark.stdout.trim().split('\n')[0], 'a container from a committed image gets its own host key');
  const refused = await env.dcm('alice', 'rmi', 'baked:v1');
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, `dcm: image baked:v1 is used by container ${d.id}: remove it first\n`);
  assert.equal((await env.dcm('alice', 'rm', '-f', 'fromcommit')).code, 0);
  assert.equal((await env.dcm('alice', 'rmi', 'baked:v1')).code, 0);
  assert.equal((await env.dcm('alice', 'create', 'baked:v1')).code, 3);
  assert.equal((await env.dcm('alice', 'rm', '-f', 'src')).code, 0);
});

test('bad input gets one line and leaves nothing behind', async () => {
  const ssh = `${tp(30100)}-${tp(30149)}`;
  const cases: [string[], number, string][] = [
    [['create', 'no-such-image'], 3, 'no such image: no-such-image (run "images" to list yours)'],
    [
      ['create', '--name', '12345'],
      2,
      'invalid container name "12345": use letters, digits and inner hyphens (at most 63), not only digits',
    ],
    [['create', '--port', '70000'], 2, 'invalid port "70000": a number from 1 to 65535'],
    [
      ['create', '--port', String(tp(30120))],
      4,
      `port ${tp(30120)} is not allowed: ${ssh} is reserved for SSH ports — policy: ports.ssh ${ssh}`,
    ],
    [['create', '--cap-add', 'SYS_ADMIN'], 2, 'create: unknown option --cap-add (try "help create")'],
    [['stop'], 2, 'stop: missing CONTAINER (usage: stop CONTAINER...)'],
    [['frobnicate'], 2, 'unknown command: frobnicate (type "help" for the list)'],
  ];
  for (const [args, code, line] of cases) {
    const r = await env.dcm('alice', ...args);
    assert.equal(r.code, code, args.join(' '));
    assert.equal(r.stderr, `dcm: ${line}\n`);
  }
  assert.deepEqual(await env.dcmJson('alice', 'show'), []);
  assert.ok(existsSync(join(env.stateDir, 'dcm.db')));
});

test('a link planted from inside a container never leads a key write out of the storage', async () => {
  const victim = mkdtempSync(join(tmpdir(), 'dcm-victim-'));
  chmodSync(victim, 0o751);
  try {
    const c = await env.dcmJson('alice', 'create', '--name', 'planter');
    // The user is root in the container: replace /root/.ssh with a link to a host path.
    const plant = await sshInto(alice.keyFile, 'root', '127.0.0.1', c.sshPort, `rm -rf /root/.ssh && ln -s ${victim} /root/.ssh`);
    assert.equal(plant.code, 0, plant.stderr);
    const keysBefore = (await env.tool('admin', 'users', 'ls', '--json')).stdout;
    const other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0cHwuzSa5Nvzn8vyH0iqAhdAB4Ak3z6RgbzT0pRpIS planted';
    const r = await env.tool('admin', 'users', 'key', 'alice', '--key', other);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /root\/\.ssh is a symbolic link or not a directory; refusing to follow it/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(existsSync(join(victim, 'authorized_keys')), false);
    assert.equal(statSync(victim).mode & 0o777, 0o751, 'mode of the host directory untouched');
    assert.equal((await env.tool('admin', 'users', 'ls', '--json')).stdout, keysBefore, 'the refused key was not kept');
  } finally {
    await env.dcm('alice', 'rm', '-f', 'planter');
    rmSync(join(env.stateDir, 'storage', 'alice', 'root', '.ssh'), { force: true });
    await env.tool('admin', 'users', 'key', 'alice', '--key', alice.pubKey);
    rmSync(victim, { recursive: true, force: true });
  }
});
