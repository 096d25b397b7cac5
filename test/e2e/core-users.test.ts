/**
 * Two users side by side on the real engine: isolation by id, name and Docker
 * id prefix; the same extra port on two IP aliases; state across tool runs;
 * userdel leaving nothing behind.
 */
import { tp } from '../helpers/ports.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, sshInto, dockerInspect, run, BIN, type TestUser } from '../helpers/env.js';

const env = new TestEnv({ tag: 'users', sshPorts: '30150-30199', ipAliases: ['127.0.0.11', '127.0.0.12'] });
let alice: TestUser;
let bob: TestUser;

before(async () => {
  await env.registerBase();
  alice = await env.addUser('alice');
  bob = await env.addUser('bob', '--group', 'students');
});
after(() => env.cleanup());

test("one user cannot see or touch another's container by id, name or Docker id prefix", async () => {
  const c = await env.dcmJson('alice', 'create', '--name', 'private');
  const i = await dockerInspect(env.dockerName(c.id));
  const dockerId: string = i.Id;
  for (const ref of [String(c.id), 'private', dockerId.slice(0, 12), dockerId]) {
    for (const cmd of [['stop'], ['rm', '-f'], ['pause'], ['logs'], ['show'], ['commit', ref, 'stolen']]) {
      const args = cmd[0] === 'commit' ? cmd : [...cmd, ref];
      const r = await env.dcm('bob', ...args);
      assert.equal(r.code, 3, `bob ${args.join(' ')}`);
      assert.match(r.stderr, /^dcm: no such container: /);
    }
  }
  assert.deepEqual(await env.dcmJson('bob', 'show'), []);
  // Alice's container is untouched, and her key does not open Bob's account.
  assert.equal((await dockerInspect(dockerId)).State.Status, 'running');
  const cross = await sshInto(bob.keyFile, 'root', '127.0.0.11', c.id, 'true');
  assert.equal(cross.code, 255, "bob's key must not log into alice's container");
  assert.match(cross.stderr, /root@127\.0\.0\.11: Permission denied \(publickey/);
  assert.equal((await sshInto(alice.keyFile, 'alice', c.ip, c.id, 'true')).code, 0);
  assert.equal((await env.dcm('alice', 'rm', '-f', 'private')).code, 0);
});

test('the same extra port on two containers lands on two IP aliases', async () => {
  const a = await env.dcmJson('alice', 'create', '--port', '18080');
  const b = await env.dcmJson('bob', 'create', '--port', '18080');
  assert.deepEqual([a.ip, b.ip], ['127.0.0.11', '127.0.0.12']);
  assert.equal(b.host, '127.0.0.12', 'the user is told the address');
  assert.deepEqual(b.ports, [{ container: 18080, host: 18080, ip: '127.0.0.12' }]);
  // Docker publishes each on its own alias, as the database says.
  const ib = await dockerInspect(env.dockerName(b.id));
  assert.deepEqual(ib.HostConfig.PortBindings['18080/tcp'], [{ HostIp: '127.0.0.12', HostPort: '18080' }]);
  assert.deepEqual(ib.HostConfig.PortBindings['22/tcp'], [{ HostIp: '127.0.0.12', HostPort: String(b.id) }]);
  assert.equal((await sshInto(bob.keyFile, 'bob', b.ip, b.id, 'true')).code, 0);
  const third = await env.dcm('bob', 'create', '--port', '18080');
  assert.equal(third.code, 1);
  assert.match(third.stderr, /^dcm: port 18080 already in use on every address/);
  assert.equal(third.stderr.split('\n').length, 2, 'one line');
  for (const [u, c] of [
    ['alice', a],
    ['bob', b],
  ] as const)
    assert.equal((await env.dcm(u, 'rm', '-f', String(c.id))).code, 0);
});

test('a port held by another process on the host is skipped', async () => {
  const { createServer } = await import('node:net');
  const srv = createServer().listen(tp(30150), '127.0.0.11');
  await new Promise((r) => srv.once('listening', r));
  try {
    const c = await env.dcmJson('alice', 'create');
    assert.notEqual(c.sshPort, tp(30150));
    assert.equal((await env.dcm('alice', 'rm', '-f', String(c.id))).code, 0);
  } finally {
    srv.close();
  }
});

test('state survives: a new tool process sees what the last one made', async () => {
  const c = await env.dcmJson('alice', 'create', '--name', 'persist');
  const status = await env.tool('admin', 'status', '--json');
  assert.equal(JSON.parse(status.stdout).containers, 1);
  const again = await env.dcmJson('alice', 'show', 'persist');
  assert.equal(again.id, c.id);
  assert.equal(again.state, 'running');
  const who = await env.dcmJson('bob', 'whoami');
  assert.deepEqual(who.groups, ['students']);
  const users = JSON.parse((await env.tool('admin', 'users', 'ls', '--json')).stdout);
  assert.deepEqual(
    users.map((u: { user: string; containers: number }) => `${u.user}:${u.containers}`),
    ['alice:1', 'bob:0'],
  );
  assert.equal((await env.dcm('alice', 'rm', '-f', 'persist')).code, 0);
});

test('userdel removes containers, images, allocations and storage, and says so', async () => {
  // A user of this test's own, so the others keep alice and bob whatever runs first.
  await env.addUser('dave', '--group', 'students');
  const c = await env.dcmJson('dave', 'create', '--port', '18081');
  await env.dcmJson('dave', 'commit', String(c.id), 'snap');
  const imageRef = 'dcm/u/dave/snap:latest';
  assert.equal((await run('docker', ['image', 'inspect', imageRef])).code, 0);
  const r = await env.tool('userdel', 'dave', '--json');
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.deepEqual(rep.containers, [c.id]);
  assert.deepEqual(rep.images, [imageRef]);
  assert.equal(rep.storage, join(env.stateDir, 'storage', 'dave'));
  assert.equal(existsSync(join(env.stateDir, 'storage', 'dave')), false);
  assert.equal(await dockerInspect(env.dockerName(c.id)), null);
  const gone = await run('docker', ['image', 'inspect', imageRef]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, new RegExp(`No such image: ${imageRef}`));
  const status = JSON.parse((await env.tool('admin', 'status', '--json')).stdout);
  assert.equal(status.users, 2, 'alice and bob are left');
  // The port is free again for anyone.
  const d = await env.dcmJson('alice', 'create', '--port', '18081');
  assert.equal(d.ports[0].host, 18081);
  const after = await env.dcm('dave', 'show');
  assert.equal(after.code, 4);
  assert.equal(after.stderr, 'dcm: dave is not a dcm user; ask the administrator to run dcm-useradd\n');
  assert.equal((await env.dcm('alice', 'rm', '-f', String(d.id))).code, 0);
});

test('admin tools refuse bad names and keys with one clear line', async () => {
  const cases: [string[], number, string][] = [
    [
      ['useradd', 'Bad Name', '--key', alice.pubKey],
      2,
      'dcm-useradd: invalid user name "Bad Name": use lower-case letters and digits, optionally joined by single - or _, starting with a letter, at most 32 characters',
    ],
    [['useradd', 'carol', '--key', 'ssh-ed25519 AAAAnotakey'], 2, 'dcm-useradd: invalid ssh-ed25519 public key "AAAAnotakey"'],
    [['useradd', 'carol', '--key', '/nonexistent.pub'], 2, 'dcm-useradd: --key /nonexistent.pub: no such file, and not a public key line'],
    [['useradd', 'carol'], 2, 'dcm-useradd: at least one --key is needed: the user logs in with it'],
    [['useradd', 'alice', '--key', alice.pubKey], 1, 'dcm-useradd: user alice already exists'],
    [['userdel', 'nobody-here'], 3, 'dcm-userdel: no such dcm user: nobody-here'],
  ];
  for (const [[tool, ...args], code, line] of cases) {
    const r = await env.tool(tool as 'useradd', ...args);
    assert.equal(r.code, code, args.join(' '));
    assert.equal(r.stderr, `${line}\n`);
  }
  const users = JSON.parse((await env.tool('admin', 'users', 'ls', '--json')).stdout);
  assert.deepEqual(
    users.map((u: { user: string }) => u.user),
    ['alice', 'bob'],
    'no user added or removed',
  );
});

test('under sudo the door refuses --state-dir/--config and creates nothing where the user pointed', async () => {
  const mine = join(env.stateDir, 'chosen-by-user');
  for (const flag of [
    ['--state-dir', mine],
    ['--config', join(mine, 'lax.yaml')],
  ]) {
    // As sudo runs it: root, with SUDO_USER naming the caller.
    const r = await run(process.execPath, [BIN.dcm, ...flag, 'show'], { SUDO_USER: 'alice' });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stderr.trim(), `dcm: ${flag[0]} is not allowed under sudo: you use the administrator's installation`);
    assert.equal(existsSync(mine), false);
  }
});

test('dcm --help and help COMMAND work before anyone is named; help --json still needs a user', async () => {
  const h = await run(process.execPath, [BIN.dcm, '--help'], { ...env.env, SUDO_USER: '' });
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^usage: sudo dcm COMMAND/);
  assert.match(h.stdout, /\n {2}create +create a container/);
  const one = await run(process.execPath, [BIN.dcm, 'help', 'commit'], { ...env.env, SUDO_USER: '' });
  assert.match(one.stdout, /usage: commit CONTAINER NAME\[:TAG\]/);
  const j = await run(process.execPath, [BIN.dcm, 'help', '--json'], { ...env.env, SUDO_USER: '' });
  assert.equal(j.code, 2);
  assert.match(j.stderr, /name the user with --user NAME/);
  const asUser = await env.dcmJson('alice', 'help');
  assert.equal(asUser.filter((c: { name: string }) => c.name === 'rmi').length, 1);
});
