/**
 * Work whose process died is recognised at once (store/work-owner.ts,
 * manager/crashed-work.ts): a 'creating' or 'removing' row, a start or commit
 * claim of a dead process is repaired by reconcile with no grace period, the
 * user can rm it at once, and dcm-server reconciles periodically. Fake engine;
 * the real processes killed on the real engine are in e2e/crash-kills.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, resolveConfig } from '../../src/config.js';
import { Store } from '../../src/store/store.js';
import { assemble, openServer } from '../../src/main.js';
import { UserManager } from '../../src/manager/user-manager.js';
import { reconcile } from '../../src/manager/reconcile.js';
import { claimStartInTx } from '../../src/manager/start-claim.js';
import { claimCommit } from '../../src/manager/commit-claim.js';
import { containerLabels } from '../../src/engine/labels.js';
import { DcmError } from '../../src/errors.js';
import { myWorkOwner, workOwnerAlive } from '../../src/store/work-owner.js';
import type { Deps } from '../../src/manager/deps.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { rawDb } from '../helpers/raw-db.js';
import { tpRange } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';
const NET = { isPortFree: async () => true, waitForSsh: async () => true };

/** A process that ran and is gone: its token, as it would have written it. */
async function deadToken(): Promise<string> {
  const child = spawn('sleep', ['30']);
  const pid = child.pid!;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  const token = `${pid}:${start}@${myWorkOwner().split('@')[1]}`;
  assert.equal(workOwnerAlive(token), true, 'alive while it runs');
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
  return token;
}

/** A 'creating' row of alice's, of the image `imageId`, whose work belongs to the process `owner`. */
function insertRow(store: Store, id: number, imageId: string, owner: string | null): void {
  store.containers.insert({
    id,
    owner: 'alice',
    name: null,
    image_ref: 'x',
    image_id: imageId,
    ip: '127.0.0.1',
    instance: 'i',
    work_owner: owner,
  });
}

function setup(raw: Record<string, unknown> = {}) {
  const dir = tempDir('dcm-crashed-');
  const config = resolveConfig({ instance: 'unit', network: { ssh_ports: '20000-20009' }, ...raw }, dir, null);
  const store = Store.open(config.dbFile);
  const engine = new FakeEngine();
  const deps: Deps = { store, engine, config, net: NET };
  const { core } = assemble(deps);
  const base = engine.addImage('dcm/debian-base:bookworm');
  store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: base, owner: null, source: null });
  new UserManager(deps).add({ name: 'alice', keys: [KEY], groups: [] });
  /** A row left in `state` by the process `owner`, with its port and, when `container`, a labelled container whose id was never recorded. */
  const leftRow = async (id: number, state: 'creating' | 'removing', owner: string | null, container: boolean) => {
    insertRow(store, id, base, owner);
    if (state === 'removing') store.containers.setState(id, 'removing');
    store.containers.addPort({ ip: '127.0.0.1', port: id, container_id: id, container_port: 22, kind: 'ssh' });
    if (container) {
      await engine.createContainer({
        name: `c${id}`,
        image: base,
        labels: containerLabels('alice', id, config.instance, store.installation.id),
      } as Parameters<FakeEngine['createContainer']>[0]);
    }
  };
  return { deps, store, engine, core, leftRow };
}

test('a token names this process; a process that exited, or a reused pid, is recognised as gone', async () => {
  const me = myWorkOwner();
  assert.match(me, new RegExp(`^${process.pid}:\\d+@[0-9a-f-]+/\\d+$`));
  assert.equal(workOwnerAlive(me), true);
  assert.equal(workOwnerAlive(await deadToken()), false);
  // Same pid, another start time: the pid was reused by another process.
  const [pid, rest] = me.split(':') as [string, string];
  const start = Number(rest.split('@')[0]);
  assert.equal(workOwnerAlive(`${pid}:${start + 1}@${rest.split('@')[1]}`), false);
  // Written before the host restarted.
  assert.equal(workOwnerAlive(`${pid}:${start}@00000000-0000-0000-0000-000000000000/${rest.split('/')[1]}`), false);
  // Another pid namespace cannot be checked from here: the grace decides.
  assert.equal(workOwnerAlive(`1:1@${rest.split('@')[1]!.split('/')[0]}/1`), true);
});

test('reconcile repairs at once a create whose process died (its container found by labels), and leaves a living one alone', async () => {
  const { deps, store, engine, leftRow } = setup();
  await leftRow(20001, 'creating', await deadToken(), true);
  await leftRow(20002, 'removing', await deadToken(), true);
  await leftRow(20003, 'creating', myWorkOwner(), true);
  await leftRow(20004, 'creating', null, false); // made before owners were recorded: the grace applies
  const rep = await reconcile(deps);
  assert.deepEqual(rep.staleReservations, [20001, 20002]);
  assert.deepEqual(rep.containersWithoutRow, []);
  assert.deepEqual(
    store.containers.all().map((r) => r.id),
    [20003, 20004],
  );
  assert.deepEqual(
    store.containers.allPorts().map((p) => p.port),
    [20003, 20004],
  );
  assert.deepEqual(
    [...engine.containers.values()].map((c) => c.spec.name),
    ['c20003'],
  );
});

test('a user removes a crashed create at once; a create still running is refused; neither counts once repaired', async () => {
  const { core, store, engine, leftRow } = setup({ defaults: { limits: { max_containers: 1 } } });
  await leftRow(20001, 'creating', myWorkOwner(), false);
  const busy = await core.run('alice', ['rm', '20001']);
  assert.equal(busy.code, 1);
  assert.equal(busy.stderr, 'dcm: container 20001 is still being created\n');
  store.containers.delete(20001);

  await leftRow(20002, 'creating', await deadToken(), true);
  const shown = JSON.parse((await core.run('alice', ['show', '--json'])).stdout);
  assert.equal(shown[0].status, 'creating, interrupted: the process doing it died (rm removes it)');
  const rm = await core.run('alice', ['rm', '20002']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(engine.containers.size, 0, 'its container, found by its labels, is gone');
  assert.equal(store.containers.allPorts().length, 0);

  // The limit allows one container: a crashed create in the way is repaired by the next create.
  await leftRow(20003, 'creating', await deadToken(), true);
  const made = await core.run('alice', ['create', '--json']);
  assert.equal(made.code, 0, made.stderr);
  assert.equal(engine.containers.size, 1);
  assert.deepEqual(
    store.containers.all().map((r) => r.state),
    ['created'],
  );
});

test('start and commit claims of a process that died count against no quota', async () => {
  const { deps, store } = setup({ defaults: { limits: { max_running: 1 }, images: { max_own: 1 } } });
  for (const id of [20001, 20002]) {
    store.containers.insert({ id, owner: 'alice', name: null, image_ref: 'x', image_id: 'sha256:1', ip: '127.0.0.1', instance: 'i' });
    store.containers.setState(id, 'created');
  }
  const dead = await deadToken();
  const db = rawDb(store);
  db.prepare("INSERT INTO start_claims (container_id, owner, started_at, work_owner) VALUES (20001, 'alice', ?, ?)").run(Date.now(), dead);
  db.prepare("INSERT INTO commit_claims (ref, owner, started_at, work_owner) VALUES ('dcm/u/alice/a:latest', 'alice', ?, ?)").run(
    Date.now(),
    dead,
  );
  const snap = { at: Date.now(), ids: new Set<number>() };
  assert.doesNotThrow(() => store.tx(() => claimStartInTx(deps, store.containers.get(20002)!, snap)));
  assert.doesNotThrow(() => claimCommit(deps, 'alice', 'dcm/u/alice/b:latest', () => new DcmError('conflict', 'taken')));
  // A living process's claims still count.
  assert.throws(
    () => claimCommit(deps, 'alice', 'dcm/u/alice/c:latest', () => new DcmError('conflict', 'taken')),
    (e: unknown) => e instanceof DcmError && e.code === 'limit',
  );
});

test('reconcile finishes a dcm-userdel whose process died, with the options it was given', async () => {
  const { deps, store, engine, core } = setup();
  assert.equal((await core.run('alice', ['create'])).code, 0);
  store.users.setBlocked('alice', true);
  store.users.setDeletion('alice', JSON.stringify({ keepImages: false, keepStorage: false, owner: await deadToken() }));
  const rep = await reconcile(deps);
  assert.deepEqual(rep.usersDeleted, ['alice']);
  assert.equal(store.users.get('alice'), undefined);
  assert.equal(engine.containers.size, 0);
  assert.equal(store.containers.allPorts().length, 0);
});

test('dcm-server reconciles every server.reconcile_interval seconds and logs only what it repaired', async () => {
  const dir = tempDir('dcm-periodic-');
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, `instance: t-periodic\nnetwork:\n  ssh_ports: "${tpRange('32595-32599')}"\nserver:\n  reconcile_interval: 1\n`);
  const engine = new FakeEngine();
  const lines: string[] = [];
  const server = await openServer({ stateDir: dir, configFile, listen: '127.0.0.1:0', engine, net: NET, log: (l) => lines.push(l) });
  try {
    const { store } = server.app;
    const base = engine.addImage('dcm/debian-base:bookworm');
    store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: base, owner: null, source: null });
    server.app.users.add({ name: 'alice', keys: [KEY], groups: [] });
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      lines.filter((l) => l.startsWith('reconcile (periodic)')),
      [],
      'nothing repaired: nothing logged',
    );
    const id = Number(tpRange('32595-32599').split('-')[0]);
    insertRow(store, id, base, await deadToken());
    const crashedAt = Date.now();
    while (store.containers.get(id) && Date.now() - crashedAt < 5000) await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.containers.get(id), undefined, lines.join('\n'));
    assert.ok(
      lines.some((l) => l.startsWith(`reconcile (periodic): repaired 1 item(s): {"staleReservations":[${id}]}`)),
      lines.join('\n'),
    );
  } finally {
    await server.stop();
  }
});

test('server.reconcile_interval: 60 s by default; a bad value names the field', () => {
  const dir = tempDir('dcm-interval-');
  const file = join(dir, 'config.yaml');
  writeFileSync(file, '{}\n');
  assert.equal(loadConfig({ stateDir: dir, configFile: file }).server.reconcile_interval, 60);
  writeFileSync(file, 'server:\n  reconcile_interval: -5\n');
  assert.throws(
    () => loadConfig({ stateDir: dir, configFile: file }),
    (e: unknown) => e instanceof DcmError && /server\.reconcile_interval/.test(e.userMessage),
  );
});
