/**
 * Installations sharing one engine: each has an id of its own (in its
 * database, on its objects, in their Docker names), so reconcile — run by
 * `dcm-admin reconcile` and at every dcm-server start — and names touch only
 * its own objects, even when two installations use the same instance name.
 * Objects made before installations had ids (no dcm.installation label) are
 * only acted on when this database references them; any other is reported
 * and left alone. No image the images table holds is ever removed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { INSTANCE_PREFIX, tp } from '../helpers/ports.js';
import { BASE_IMAGE, TestEnv, dockerInspect, run } from '../helpers/env.js';
import { startServer } from '../helpers/ssh.js';

const LEGACY = 'legacy object without installation label: left alone';

// Two installations, same instance name, same SSH port range, different addresses.
const shared = `${INSTANCE_PREFIX}inst-${randomBytes(3).toString('hex')}`;
const a = new TestEnv({ tag: 'insta', sshPorts: '30800-30809', ipAliases: ['127.0.0.31'], instance: shared });
const b = new TestEnv({ tag: 'instb', sshPorts: '30800-30809', ipAliases: ['127.0.0.32'], instance: shared });
// Two more with one instance name, on distinct ports (so their names differ even without ids).
const sharedToo = `${INSTANCE_PREFIX}inst-${randomBytes(3).toString('hex')}`;
const c = new TestEnv({ tag: 'instc', sshPorts: '30840-30844', instance: sharedToo });
const d = new TestEnv({ tag: 'instd', sshPorts: '30845-30849', instance: sharedToo });
const legacy = new TestEnv({ tag: 'instl', sshPorts: '30820-30829' });
const pub = new TestEnv({ tag: 'instp', sshPorts: '30830-30839' });
const envs = [a, b, c, d, legacy, pub];

after(async () => {
  for (const e of envs) await e.cleanup();
});

async function imageExists(ref: string): Promise<boolean> {
  return (await run('docker', ['image', 'inspect', ref])).code === 0;
}

/** Runs dcm-server's start-up (which reconciles) and stops it once it listens. */
async function serverStart(env: TestEnv, port: number): Promise<string> {
  const s = await startServer(env, port);
  await s.waitLog(/reconcile/);
  await s.stop();
  return s.log();
}

test('two installations with the same instance name both create a container with the same SSH port number: no name clash', async () => {
  for (const e of [a, b]) {
    await e.registerBase();
    await e.addUser('alice');
  }
  assert.notEqual(a.installationId(), b.installationId());
  const ca = await a.dcmJson('alice', 'create');
  const cb = await b.dcmJson('alice', 'create');
  assert.equal(ca.id, tp(30800));
  assert.equal(cb.id, tp(30800));
  assert.notEqual(a.dockerName(ca.id), b.dockerName(cb.id));
  const ia = await dockerInspect(a.dockerName(ca.id));
  const ib = await dockerInspect(b.dockerName(cb.id));
  assert.equal(ia.Config.Labels['dcm.installation'], a.installationId());
  assert.equal(ib.Config.Labels['dcm.installation'], b.installationId());
  assert.equal(ia.State.Status, 'running');
  assert.equal(ib.State.Status, 'running');
});

test("reconcile and server start of one installation leave another's containers and images (same instance name) intact", async () => {
  for (const e of [c, d]) {
    await e.registerBase();
    await e.addUser('alice');
  }
  const cc = await c.dcmJson('alice', 'create');
  const cd = await d.dcmJson('alice', 'create');
  assert.equal((await c.dcm('alice', 'commit', String(cc.id), 'work-c')).code, 0);
  assert.equal((await d.dcm('alice', 'commit', String(cd.id), 'work-d')).code, 0);
  const imgC = (await dockerInspect('dcm/u/alice/work-c:latest')) as { Id: string; Config: { Labels: Record<string, string> } };
  assert.equal(imgC.Config.Labels['dcm.installation'], c.installationId());

  // The other installation cannot take the name of c's image away from it.
  const clash = await d.dcm('alice', 'commit', String(cd.id), 'work-c');
  assert.equal(clash.code, 1, clash.stderr);
  assert.equal(clash.stderr.trim(), 'dcm: the image name work-c:latest is already used in the container engine; pick another name or tag');
  assert.equal((await dockerInspect('dcm/u/alice/work-c:latest')).Id, imgC.Id);

  const survives = async () => {
    assert.equal((await dockerInspect(c.dockerName(cc.id)))?.State?.Status, 'running', "c's container survives");
    assert.equal((await dockerInspect(d.dockerName(cd.id)))?.State?.Status, 'running', "d's container survives");
    assert.ok(await imageExists('dcm/u/alice/work-c:latest'), "c's image survives");
    assert.ok(await imageExists('dcm/u/alice/work-d:latest'), "d's image survives");
    assert.equal((await c.dcmJson('alice', 'show', String(cc.id))).state, 'running');
    assert.equal((await d.dcmJson('alice', 'show', String(cd.id))).state, 'running');
  };

  for (const e of [d, c]) {
    const r = await e.tool('admin', 'reconcile');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'nothing to repair');
    await survives();
  }
  for (const [e, port] of [
    [d, tp(30890)],
    [c, tp(30891)],
  ] as const) {
    assert.match(await serverStart(e, port), /reconcile: nothing to repair/);
    await survives();
  }
  // Each still works with its own objects: a new container from its own image.
  const again = await c.dcmJson('alice', 'create', 'work-c');
  assert.equal(again.state, 'running');
});

test("objects made before installations had ids: referenced ones are kept as this installation's, unreferenced ones reported and left alone", async () => {
  await legacy.registerBase();
  await legacy.addUser('alice');
  const id = (await dockerInspect(BASE_IMAGE)).Id as string;
  const oldLabels = (port: number) => [
    '--label',
    'dcm.managed=1',
    '--label',
    'dcm.owner=alice',
    '--label',
    `dcm.id=${port}`,
    '--label',
    `dcm.instance=${legacy.instance}`,
  ];
  // As an older dcm made them: labels without dcm.installation, names <instance>-<port>.
  const mk = async (port: number) => {
    const r = await run('docker', ['create', ...oldLabels(port), '--name', `${legacy.instance}-${port}`, BASE_IMAGE, 'sleep', 'infinity']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const kept = await mk(tp(30820));
  const orphan = await mk(tp(30821));
  const db = new Database(join(legacy.stateDir, 'dcm.db'));
  db.prepare(`INSERT INTO containers (id, owner, name, docker_id, image_ref, image_id, ip, instance, state)
              VALUES (?, 'alice', 'old', ?, ?, ?, '127.0.0.1', 'tok', 'created')`).run(tp(30820), kept, BASE_IMAGE, id);
  db.close();
  const commit = await run('docker', [
    'commit',
    '--change',
    'LABEL dcm.managed=1',
    '--change',
    'LABEL dcm.owner=alice',
    '--change',
    `LABEL dcm.instance=${legacy.instance}`,
    orphan,
    `${legacy.instance}/old:1`,
  ]);
  assert.equal(commit.code, 0, commit.stderr);

  const r = await legacy.tool('admin', 'reconcile');
  assert.equal(r.code, 0, r.stderr);
  // The referenced one is this installation's: it gets the restart policy containers are made with now.
  assert.deepEqual(r.stdout.trim().split('\n').sort(), [
    `${LEGACY}: container ${orphan.slice(0, 12)}`,
    `${LEGACY}: image ${legacy.instance}/old:1`,
    `repaired 1 containers without the restart policy unless-stopped: ${tp(30820)}`,
  ]);
  assert.deepEqual(
    [(await dockerInspect(kept)).HostConfig.RestartPolicy.Name, (await dockerInspect(orphan)).HostConfig.RestartPolicy.Name],
    ['unless-stopped', 'no'],
  );
  const log = await serverStart(legacy, tp(30892));
  assert.ok(log.includes(`reconcile: ${LEGACY}: container ${orphan.slice(0, 12)}`), log);
  assert.notEqual(await dockerInspect(kept), null, 'the referenced legacy container is kept');
  assert.notEqual(await dockerInspect(orphan), null, 'the unreferenced legacy container is left alone');
  assert.ok(await imageExists(`${legacy.instance}/old:1`), 'the unreferenced legacy image is left alone');
  assert.equal((await legacy.dcmJson('alice', 'show', 'old')).id, tp(30820), 'its row is kept too');
});

test("a base image published from a user's commit survives the user's rmi and reconcile, and creates from it work", async () => {
  await pub.registerBase();
  await pub.addUser('alice');
  await pub.addUser('bob');
  const c = await pub.dcmJson('alice', 'create');
  assert.equal((await pub.dcm('alice', 'commit', String(c.id), 'tool')).code, 0);
  // The admin publishes alice's image for everyone...
  const published = `${pub.instance}/published:1`;
  assert.equal((await run('docker', ['tag', 'dcm/u/alice/tool:latest', published])).code, 0);
  const add = await pub.tool('admin', 'images', 'add', published);
  assert.equal(add.code, 0, add.stderr);
  // ...and alice removes her own copy.
  const rmi = await pub.dcm('alice', 'rmi', 'tool');
  assert.equal(rmi.code, 0, rmi.stderr);
  assert.ok(!(await imageExists('dcm/u/alice/tool:latest')));

  const r = await pub.tool('admin', 'reconcile');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'nothing to repair');
  assert.ok(await imageExists(published), 'the registered base image is still in the engine');
  assert.match(await serverStart(pub, tp(30893)), /reconcile: nothing to repair/);
  assert.ok(await imageExists(published));
  const made = await pub.dcmJson('bob', 'create', published);
  assert.equal(made.state, 'running');
});
