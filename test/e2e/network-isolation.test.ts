/**
 * Users do not reach each other's containers: each user's containers share a
 * bridge network of their own, with a subnet dcm chose, and the engine drops
 * traffic between bridge networks. Checked with one bounded TCP connection
 * attempt per pair, from inside a container this file made to another
 * container this file made (port 22, sshd, never published there).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, dockerInspect, run, sshInto, type TestUser } from '../helpers/env.js';

const env = new TestEnv({ tag: 'net', sshPorts: '31300-31349' });
const users: Record<string, TestUser> = {};

before(async () => {
  await env.registerBase();
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) users[u] = await env.addUser(u);
});
after(() => env.cleanup());

interface Created {
  id: number;
  ip: string;
}

const dockerName = (c: Created) => env.dockerName(c.id);

/** The container's networks as Docker sees them: name → address. */
async function networksOf(c: Created): Promise<Record<string, string>> {
  const i = await dockerInspect(dockerName(c));
  return Object.fromEntries(
    Object.entries(i.NetworkSettings.Networks as Record<string, { IPAddress: string }>).map(([n, v]) => [n, v.IPAddress]),
  );
}

async function addressOf(c: Created): Promise<string> {
  const nets = Object.values(await networksOf(c));
  assert.equal(nets.length, 1, 'one network per container');
  return nets[0]!;
}

/** One bounded attempt (3 s) to open TCP port 22 of `ip` from inside `from`: the exit code of timeout(1). */
async function connect(from: Created, ip: string): Promise<number> {
  const r = await run('docker', ['exec', dockerName(from), 'timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${ip}/22`], {}, 20_000);
  return r.code;
}

/** Networks this file's installation made for one user. */
async function userNetworks(user: string): Promise<string[]> {
  const r = await run('docker', [
    'network',
    'ls',
    '--format',
    '{{.Name}}',
    '--filter',
    `label=dcm.instance=${env.instance}`,
    '--filter',
    `label=dcm.owner=${user}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test("a user's containers reach each other, other users' containers do not (both ways)", { timeout: 180_000 }, async () => {
  const alice1 = await env.dcmJson<Created>('alice', 'create');
  const alice2 = await env.dcmJson<Created>('alice', 'create');
  const bob1 = await env.dcmJson<Created>('bob', 'create');
  const [a1, a2, b1] = [await addressOf(alice1), await addressOf(alice2), await addressOf(bob1)];

  assert.equal(await connect(alice1, a2), 0, "alice's first container opens sshd of her second");
  // 124: timeout(1) ended the attempt — the engine drops the packets between the two networks.
  assert.equal(await connect(alice1, b1), 124, "alice's container must not reach bob's sshd");
  assert.equal(await connect(bob1, a1), 124, "bob's container must not reach alice's sshd");

  // Each user has exactly one network, made by dcm, holding all of their containers.
  const [aliceNet] = await userNetworks('alice');
  const [bobNet] = await userNetworks('bob');
  assert.ok(aliceNet && bobNet && aliceNet !== bobNet);
  assert.deepEqual(Object.keys(await networksOf(alice1)), [aliceNet]);
  assert.deepEqual(Object.keys(await networksOf(alice2)), [aliceNet]);
  assert.deepEqual(Object.keys(await networksOf(bob1)), [bobNet]);
  assert.match(aliceNet, new RegExp(`^${env.instance}-${env.installationId().slice(0, 8)}-net-alice-[0-9a-f]{12}$`));
  // Its subnet comes from network.user_subnets (default 10.213.0.0/16, /27 blocks), not Docker's pools.
  const net = JSON.parse((await run('docker', ['network', 'inspect', aliceNet])).stdout)[0];
  assert.match(net.IPAM.Config[0].Subnet, /^10\.213\.\d+\.\d+\/27$/);
  assert.equal(net.Labels['dcm.managed'], '1');

  // The published SSH port on loopback still works as before.
  const ssh = await sshInto(users.alice!.keyFile, 'root', alice1.ip, alice1.id, 'echo ok');
  assert.equal(ssh.code, 0, ssh.stderr);
  assert.equal(ssh.stdout.trim(), 'ok');
});

test('two parallel first creates of one user end with one network holding both containers', { timeout: 180_000 }, async () => {
  const [r1, r2] = await Promise.all([env.dcm('carol', 'create', '--json'), env.dcm('carol', 'create', '--json')]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r2.code, 0, r2.stderr);
  const nets = await userNetworks('carol');
  assert.equal(nets.length, 1, `one network, got ${nets.join(', ')}`);
  const c1 = JSON.parse(r1.stdout) as Created;
  const c2 = JSON.parse(r2.stdout) as Created;
  assert.deepEqual(Object.keys(await networksOf(c1)), nets);
  assert.deepEqual(Object.keys(await networksOf(c2)), nets);
});

test("dcm-userdel removes the user's network", { timeout: 180_000 }, async () => {
  await env.dcmJson<Created>('dave', 'create');
  const [net] = await userNetworks('dave');
  assert.ok(net);
  const r = await env.tool('userdel', 'dave');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.split('\n').includes(`  network: removed ${net}`), r.stdout);
  assert.deepEqual(await userNetworks('dave'), []);
});

test('dcm-userdel says clearly when the network cannot be removed (a container dcm does not know is attached)', {
  timeout: 180_000,
}, async () => {
  await env.dcmJson<Created>('erin', 'create');
  const [net] = await userNetworks('erin');
  assert.ok(net);
  // An admin's own container on erin's network: dcm must not remove it, so the engine keeps the network.
  const stray = await run('docker', [
    'run',
    '-d',
    '--label',
    `dcm.instance=${env.instance}`,
    '--network',
    net,
    '--entrypoint',
    'sleep',
    'dcm/debian-base:bookworm',
    '300',
  ]);
  assert.equal(stray.code, 0, stray.stderr);
  const r = await env.tool('userdel', 'erin');
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.startsWith('  network: '));
  assert.match(
    line ?? '',
    new RegExp(
      `^  network: NOT removed: ${net}: .*has active endpoints.* \\(detach what is still attached, then docker network rm ${net}\\)$`,
    ),
  );
  assert.deepEqual(await userNetworks('erin'), [net]);
});

test('a stopped container starts again after its network was pruned (dcm makes the network again)', { timeout: 180_000 }, async () => {
  const c = await env.dcmJson<Created>('frank', 'create');
  const [net] = await userNetworks('frank');
  assert.ok(net);
  assert.equal((await env.dcm('frank', 'stop', String(c.id))).code, 0);
  // What `docker network prune` does to a network whose containers are all stopped.
  const rm = await run('docker', ['network', 'rm', net]);
  assert.equal(rm.code, 0, rm.stderr);
  const r = await env.dcm('frank', 'start', String(c.id));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await userNetworks('frank'), [net]);
  assert.deepEqual(Object.keys(await networksOf(c)), [net]);
  const ssh = await sshInto(users.frank!.keyFile, 'root', c.ip, c.id, 'echo ok');
  assert.equal(ssh.stdout.trim(), 'ok', ssh.stderr);
});
