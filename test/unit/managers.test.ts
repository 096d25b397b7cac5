/** Manager logic on a fake engine: ownership, the create saga's undo, rmi rules. */
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { Store } from '../../src/store/store.js';
import type { CommandCore } from '../../src/shell/core.js';
import { assemble } from '../../src/main.js';
import { UserManager } from '../../src/manager/user-manager.js';
import { reconcile } from '../../src/manager/reconcile.js';
import { realHostNet, type HostNet } from '../../src/net/host-net.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';

let engine: FakeEngine;
let core: CommandCore;
let store: Store;
let busy: Set<string>;
let baseId: string;

beforeEach(() => {
  const dir = tempDir('dcm-unit-');
  const config = resolveConfig(
    {
      instance: 'unit',
      network: { ssh_ports: '20000-20002', ip_aliases: ['127.0.0.1', '127.0.0.2'] },
      defaults: { limits: { max_containers: 2 } },
    },
    dir,
    null,
  );
  store = Store.open(config.dbFile);
  engine = new FakeEngine();
  busy = new Set();
  const net: HostNet = { isPortFree: async (ip, p) => !busy.has(`${ip}:${p}`), waitForSsh: async () => true };
  const deps = { store, engine, config, net };
  core = assemble(deps).core;
  baseId = engine.addImage('dcm/debian-base:bookworm');
  store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: baseId, owner: null, source: null });
  const um = new UserManager(deps);
  // Storage goes to the temp state dir; chown to these ids works as root.
  um.add({ name: 'alice', keys: [KEY], groups: [] });
  um.add({ name: 'bob', keys: [KEY], groups: [] });
});

const run = async (user: string, line: string) => core.run(user, line.split(' '));
const json = async (user: string, line: string) => {
  const r = await run(user, `${line} --json`);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
};

test('create records a row and ports; the spec is the hardened allowlist', async () => {
  const c = await json('alice', 'create --name web --port 8080');
  assert.equal(c.id, 20000);
  assert.deepEqual(c.ports, [{ container: 8080, host: 8080, ip: '127.0.0.1' }]);
  const [spec] = [...engine.containers.values()].map((x) => x.spec);
  assert.equal(spec!.image, baseId);
  assert.deepEqual(spec!.publish, [
    { hostIp: '127.0.0.1', hostPort: 20000, containerPort: 22 },
    { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 8080 },
  ]);
  assert.equal(spec!.labels['dcm.owner'], 'alice');
  assert.equal(spec!.env.DCM_USER, 'alice');
  assert.ok(!spec!.capAdd.includes('SYS_ADMIN'));
  const inst = store.installation.id;
  assert.match(inst, /^[0-9a-f]{32}$/);
  assert.equal(spec!.name, `unit-${inst.slice(0, 8)}-20000`);
  assert.equal(spec!.labels['dcm.installation'], inst);
});

test('the same extra port goes to the next alias; all aliases full is refused', async () => {
  await json('alice', 'create --port 8080');
  const b = await json('bob', 'create --port 8080');
  assert.equal(b.ip, '127.0.0.2');
  assert.equal(b.host, '127.0.0.2');
  const r = await run('bob', 'create --port 8080');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /port 8080 already in use on every address/);
  assert.equal(store.containers.all().length, 2);
});

test('a port held by another process is skipped', async () => {
  busy.add('127.0.0.1:20000');
  const c = await json('alice', 'create');
  assert.equal(c.id, 20001);
});

test('a failed start undoes the create: no container, no row, no port', async () => {
  engine.failNext.add('start');
  const r = await run('alice', 'create --port 9000');
  assert.notEqual(r.code, 0);
  assert.equal(engine.containers.size, 0);
  assert.equal(store.containers.all().length, 0);
  assert.equal(store.containers.allPorts().length, 0);
  const ok = await json('alice', 'create --port 9000');
  // Ports go round the range: even a port whose create failed is not the next one.
  assert.equal(ok.id, 20001);
});

test("another user's container is 'no such container' by id, name or docker id prefix", async () => {
  const c = await json('alice', 'create --name secret');
  const dockerId = store.containers.get(c.id)!.docker_id!;
  for (const ref of [String(c.id), 'secret', dockerId.slice(0, 12), dockerId, '99999']) {
    for (const cmd of ['stop', 'rm -f', 'logs', 'show']) {
      const r = await run('bob', `${cmd} ${ref}`);
      assert.equal(r.code, 3, `${cmd} ${ref}`);
      assert.equal(r.stderr, `dcm: no such container: ${ref.slice(0, 40)}${ref.length > 40 ? '…' : ''}\n`);
    }
  }
  assert.equal(engine.containers.size, 1);
  assert.equal([...engine.containers.values()][0]!.state, 'running');
  assert.deepEqual(await json('bob', 'show'), []);
});

test('max containers is enforced with usage and limit', async () => {
  await json('alice', 'create');
  await json('alice', 'create');
  const r = await run('alice', 'create');
  assert.equal(r.code, 5);
  assert.match(r.stderr, /2 of 2 containers/);
});

test('commit, create from it, rmi refused while used, then allowed; base images protected', async () => {
  const c = await json('alice', 'create --name src');
  const img = await json('alice', 'commit src tools:v1');
  assert.equal(img.ref, 'dcm/u/alice/tools:v1');
  assert.equal((await run('alice', 'commit src tools:v1')).code, 1);
  const d = await json('alice', 'create tools:v1');
  assert.equal(d.image, 'dcm/u/alice/tools:v1');
  assert.equal((await run('bob', 'create tools:v1')).code, 3);
  assert.equal((await run('bob', 'create dcm/u/alice/tools:v1')).code, 3);
  assert.equal((await run('bob', 'rmi dcm/u/alice/tools:v1')).code, 3);
  const used = await run('alice', 'rmi tools:v1');
  assert.match(used.stderr, new RegExp(`used by container ${d.id}`));
  assert.match((await run('alice', 'rmi dcm/debian-base:bookworm')).stderr, /base image: only the administrator/);
  await json('alice', `rm -f ${d.id}`);
  await json('alice', 'rmi tools:v1');
  assert.equal(store.images.ownedBy('alice').length, 0);
  const imgs = await json('alice', 'images');
  assert.deepEqual(
    imgs.map((i: { name: string }) => i.name),
    ['dcm/debian-base:bookworm'],
  );
  assert.equal(store.containers.get(c.id)?.name, 'src', 'the source container is untouched by commit');
});

test('rm refuses a running container without -f, and keeps the row when the engine fails', async () => {
  const c = await json('alice', 'create');
  const refused = await run('alice', `rm ${c.id}`);
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, `dcm: container ${c.id} is running: stop it first, or use rm -f\n`);
  await json('alice', `stop ${c.id}`);
  // The engine fails to remove it: the row stays as it was, with its port, and rm can be tried again.
  engine.failNext.add('remove');
  const failed = await run('alice', `rm ${c.id}`);
  assert.equal(failed.code, 1);
  assert.equal(store.containers.get(c.id)?.state, 'created');
  assert.equal(store.containers.portsOnIp(c.ip).has(c.id), true, 'its SSH port stays reserved');
  assert.equal(engine.containers.size, 1);
  await json('alice', `rm ${c.id}`);
  assert.equal(store.containers.all().length, 0);
  assert.equal(engine.containers.size, 0);
});

test('unknown commands and options get one line; nothing reaches the engine', async () => {
  const r = await run('alice', 'create --privileged');
  assert.equal(r.code, 2);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
  assert.match((await run('alice', 'frobnicate 1 sh')).stderr, /unknown command: frobnicate/);
  assert.match((await run('mallory', 'show')).stderr, /not a dcm user/);
  assert.equal(engine.containers.size, 0);
});

test('userdel removes containers, ports, images and storage', async () => {
  const c = await json('alice', 'create --port 8080');
  await json('alice', `commit ${c.id} snap`);
  const um = new UserManager({ store, engine, config: core.deps.config, net: realHostNet });
  const rep = await um.del('alice', { keepImages: false, keepStorage: false });
  assert.deepEqual(rep.containers, [c.id]);
  assert.deepEqual(rep.images, ['dcm/u/alice/snap:latest']);
  assert.equal(engine.containers.size, 0);
  assert.equal(store.containers.allPorts().length, 0);
  assert.equal(store.users.get('alice'), undefined);
  assert.ok(!existsSync(join(core.deps.config.storageDir, 'alice')));
  assert.ok(existsSync(join(core.deps.config.storageDir, 'bob', 'home', '.ssh', 'authorized_keys')));
});

test('reconcile removes rows without containers and containers without rows', async () => {
  const a = await json('alice', 'create');
  const b = await json('alice', 'create');
  const bDocker = store.containers.get(b.id)!.docker_id!;
  engine.containers.delete(bDocker); // container vanished
  store.containers.delete(a.id); // row lost
  const rep = await reconcile(core.deps, {});
  assert.deepEqual(rep.rowsWithoutContainer, [b.id]);
  assert.equal(rep.containersWithoutRow.length, 1);
  assert.equal(engine.containers.size, 0);
  assert.equal(store.containers.allPorts().length, 0);
});

test('a failed create whose container the engine will not remove keeps its row as removing; reconcile finishes it', async () => {
  engine.failNext.add('start');
  engine.failNext.add('remove');
  const r = await run('alice', 'create --port 9000');
  assert.notEqual(r.code, 0);
  assert.equal(engine.containers.size, 1, 'the engine still holds the container');
  const [row] = store.containers.all();
  assert.equal(row!.state, 'removing');
  assert.equal(store.containers.allPorts().length, 2, 'its ports are not handed out again meanwhile');
  const rep = await reconcile(core.deps, {});
  assert.deepEqual(rep.staleReservations, [row!.id]);
  assert.equal(engine.containers.size, 0);
  const next = await json('alice', 'create --port 9000');
  assert.notEqual(next.id, row!.id);
  assert.deepEqual(
    store.containers.all().map((c) => c.id),
    [next.id],
  );
});

test("a 'removing' row a failed create left (no process works on it) is finished by its owner's next create", async () => {
  engine.failNext.add('start');
  engine.failNext.add('remove');
  assert.notEqual((await run('alice', 'create --port 9000')).code, 0);
  const [row] = store.containers.all();
  assert.equal(row!.state, 'removing');
  assert.equal(row!.work_owner, null);
  const next = await json('alice', 'create --port 9000');
  assert.equal(next.ports[0].host, 9000, 'its port is free again');
  assert.equal(engine.containers.size, 1);
  assert.deepEqual(
    store.containers.all().map((c) => c.id),
    [next.id],
  );
});

test('two commits racing for one tag: one wins, the loser leaves no image and does not move the tag', async () => {
  await json('alice', 'create --name src');
  const before = engine.images.size;
  const [a, b] = await Promise.all([run('alice', 'commit src tools:v1 --json'), run('alice', 'commit src tools:v1 --json')]);
  const wins = [a, b].filter((r) => r.code === 0);
  const losses = [a, b].filter((r) => r.code !== 0);
  assert.equal(wins.length, 1);
  assert.match(losses[0]!.stderr, /already have an image tools:v1/);
  assert.equal(engine.images.size, before + 1, "the loser's image is gone");
  const row = store.images.get('dcm/u/alice/tools:v1')!;
  assert.deepEqual(engine.images.get(row.docker_id)!.tags, ['dcm/u/alice/tools:v1'], 'the recorded image carries the tag');
});

test('a commit whose tagging fails leaves neither a row nor an image', async () => {
  await json('alice', 'create --name src');
  const before = engine.images.size;
  engine.failNext.add('tag');
  assert.notEqual((await run('alice', 'commit src tools:v1')).code, 0);
  assert.equal(engine.images.size, before);
  assert.equal(store.images.get('dcm/u/alice/tools:v1'), undefined);
  assert.equal((await run('alice', 'commit src tools:v1')).code, 0, 'the name is free again');
});

test('release_on_stop: a start the engine refuses gives the GPU back', async () => {
  const dir = tempDir('dcm-unit-gpu-');
  writeFileSync(join(dir, 'nvidia0'), '');
  const config = resolveConfig(
    {
      instance: 'unitgpu',
      network: { ssh_ports: '20000-20002' },
      gpus: { inventory: [{ id: 'g0', devices: [join(dir, 'nvidia0')] }], release_on_stop: true },
      defaults: { gpus: { max: 1 } },
    },
    dir,
    null,
  );
  const s = Store.open(config.dbFile);
  const eng = new FakeEngine();
  const net: HostNet = { isPortFree: async () => true, waitForSsh: async () => true };
  const deps = { store: s, engine: eng, config, net };
  const c = assemble(deps).core;
  s.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: eng.addImage('dcm/debian-base:bookworm'), owner: null, source: null });
  new UserManager(deps).add({ name: 'carol', keys: [KEY], groups: [] });
  const ok = async (line: string) => {
    const r = await c.run('carol', line.split(' '));
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  await ok('create --gpus 1');
  const id = s.containers.all()[0]!.id;
  await ok(`stop ${id}`);
  assert.equal(s.policy.reservations().length, 0, 'released on stop');
  eng.failNext.add('start');
  assert.notEqual((await c.run('carol', ['start', String(id)])).code, 0);
  assert.equal(s.policy.reservations().length, 0, 'a failed start keeps nothing reserved');
  await ok(`start ${id}`);
  assert.deepEqual(
    s.policy.reservations().map((g) => g.gpu_id),
    ['g0'],
  );
  s.close();
});
