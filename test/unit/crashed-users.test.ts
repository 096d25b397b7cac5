/**
 * Crashed dcm-useradd, crashed network making, and the grace of work begun
 * on an old row, with the fake engine (the real processes killed on the real
 * engine: test/e2e/crash-users.test.ts): reconcile finishes a dead
 * dcm-useradd's user (or removes it when its storage refuses) and leaves a
 * living one's alone; records a network whose maker died, releases a dead
 * maker's claim, removes networks no user needs; a living process's removal
 * of a container made long ago is its own, not crashed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { Store } from '../../src/store/store.js';
import { UserManager } from '../../src/manager/user-manager.js';
import { assemble } from '../../src/main.js';
import { reconcile } from '../../src/manager/reconcile.js';
import { crashedRow, workInFlight } from '../../src/manager/crashed-work.js';
import { networkLabels } from '../../src/engine/labels.js';
import { myWorkOwner, workOwnerAlive } from '../../src/store/work-owner.js';
import type { Deps } from '../../src/manager/deps.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { rawDb } from '../helpers/raw-db.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';

/** A process that ran and is gone: its token, as it would have written it. */
async function deadToken(): Promise<string> {
  const child = spawn('sleep', ['30']);
  const pid = child.pid!;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  const token = `${pid}:${start}@${myWorkOwner().split('@')[1]}`;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
  assert.equal(workOwnerAlive(token), false);
  return token;
}

function setup() {
  const dir = tempDir('dcm-crashed-users-');
  const config = resolveConfig({ instance: 'unit', network: { ssh_ports: '20000-20009' } }, dir, null);
  const store = Store.open(config.dbFile);
  const engine = new FakeEngine();
  const deps: Deps = { store, engine, config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  return { deps, store, engine, config };
}

/** A user row as a dcm-useradd owned by `owner` left it right after its transaction. */
function halfAdded(store: Store, name: string, uid: number, owner: string): void {
  store.tx(() => {
    store.users.insert({ name, uid, gid: uid, addition: JSON.stringify({ owner }) });
    store.users.addKey({ user: name, algo: 'ssh-ed25519', key_b64: KEY.split(' ')[1]!, comment: 'test', fingerprint: `fp-${name}` });
  });
}

test("reconcile finishes a dead dcm-useradd's user from its row, leaves a living one's, and removes one whose storage refuses", async () => {
  const { deps, store, config } = setup();
  const dead = await deadToken();
  halfAdded(store, 'deadadd', 60001, dead);
  halfAdded(store, 'liveadd', 60002, myWorkOwner());
  halfAdded(store, 'linked', 60003, dead);
  mkdirSync(config.storageDir, { recursive: true, mode: 0o700 });
  symlinkSync(tempDir('dcm-elsewhere-'), join(config.storageDir, 'linked'));
  assert.equal(store.users.get('deadadd')!.blocked, 1, 'inserted blocked');

  const dry = await reconcile(deps, { dryRun: true });
  assert.deepEqual([dry.usersAdded, store.users.beingAdded().length], [['deadadd', 'linked'], 3]);
  const r = await reconcile(deps);
  assert.deepEqual(r.usersAdded, ['deadadd']);
  assert.equal(r.usersAddUndone.length, 1);
  assert.match(r.usersAddUndone[0]!, /^linked: /);
  const done = store.users.get('deadadd')!;
  assert.deepEqual([done.blocked, done.addition], [0, null]);
  for (const d of ['root', 'home']) {
    assert.match(readFileSync(join(config.storageDir, 'deadadd', d, '.ssh', 'authorized_keys'), 'utf8'), /AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnk/);
  }
  assert.equal(store.users.get('linked'), undefined);
  const live = store.users.get('liveadd')!;
  assert.equal(live.blocked, 1, "a living dcm-useradd's user is left to it");
  assert.equal(existsSync(join(config.storageDir, 'liveadd')), false);
  // Past the grace, even a living owner's addition is finished.
  assert.deepEqual((await reconcile(deps, { graceMs: -1 })).usersAdded, ['liveadd']);
});

test('dcm-useradd on a name whose dcm-useradd has not finished says what to do', () => {
  const { deps, store } = setup();
  halfAdded(store, 'half', 60001, myWorkOwner());
  assert.throws(
    () => new UserManager(deps).add({ name: 'half', keys: [KEY], groups: [] }),
    /user half is still being added \(or its dcm-useradd died half-way: dcm-admin reconcile finishes it\)/,
  );
});

test("reconcile records a network whose maker died after the engine made it, releases a dead maker's claim, removes networks no user needs", async () => {
  const { deps, store, engine } = setup();
  const inst = store.installation.id;
  const dead = `${await deadToken()}#abcd`;
  const um = new UserManager(deps);
  for (const u of ['made', 'claimed', 'busy']) um.add({ name: u, keys: [KEY], groups: [] });
  const now = Date.now();
  const row = (id: number, owner: string, claim: string | null) => ({
    id,
    owner,
    name: `net-${owner}`,
    token: `tok${id}`,
    subnet: `10.9.${id}.0/24`,
    claim,
    claim_until: now + 20_000,
  });
  store.tx(() => {
    store.networks.insert(row(1, 'made', dead)); // the engine made it, the id was never recorded
    store.networks.insert(row(2, 'claimed', dead)); // killed before the engine made it
    store.networks.insert(row(3, 'busy', `${myWorkOwner()}#beef`)); // being made by a living process
    store.networks.insert(row(4, 'gone', null)); // its user is gone
  });
  const madeId = await engine.createNetwork({
    name: 'net-made',
    subnet: '10.9.1.0/24',
    labels: networkLabels('made', 'tok1', 'unit', inst),
  });
  const goneId = await engine.createNetwork({
    name: 'net-gone',
    subnet: '10.9.4.0/24',
    labels: networkLabels('gone', 'tok4', 'unit', inst),
  });
  const db = rawDb(store);
  db.prepare('UPDATE user_networks SET docker_id = ? WHERE id = 4').run(goneId);
  db.close();
  await engine.createNetwork({ name: 'net-stray', subnet: '10.9.5.0/24', labels: networkLabels('made', 'tok5', 'unit', inst) });

  const r = await reconcile(deps);
  assert.deepEqual(r.networksRecorded, ['net-made']);
  assert.deepEqual(r.networksRemoved.sort(), ['net-gone', 'net-stray']);
  assert.deepEqual(r.networksNotRemoved, []);
  const rows = new Map(store.networks.all().map((n) => [n.id, n]));
  assert.deepEqual([rows.get(1)!.docker_id, rows.get(1)!.claim], [madeId, null]);
  assert.deepEqual([rows.get(2)!.docker_id, rows.get(2)!.claim], [null, null], "the dead maker's claim is released");
  assert.equal(rows.get(3)!.claim, `${myWorkOwner()}#beef`, "a living maker's claim stays");
  assert.equal(rows.has(4), false);
  assert.deepEqual(
    [...engine.networks.values()].map((n) => n.name),
    ['net-made'],
  );
  const again = await reconcile(deps);
  assert.deepEqual([again.networksRecorded, again.networksRemoved], [[], []]);
});

test('a living process removing a container made long ago owns the work; a dead one does not', async () => {
  const { store } = setup();
  const old = new Date(Date.now() - 3600_000).toISOString();
  const base = {
    id: 20001,
    owner: 'x',
    name: null,
    docker_id: 'd',
    image_ref: 'i',
    image_id: 'i',
    ip: '127.0.0.1',
    instance: 'i',
    state: 'removing' as const,
    created_at: old,
    job: null,
    auto_remove: 0,
  };
  const since = Date.now();
  assert.equal(workInFlight({ ...base, work_owner: myWorkOwner(), work_since: since }), true);
  assert.equal(crashedRow({ ...base, work_owner: await deadToken(), work_since: since }), true);
  // Without work_since (a row whose work began at its insert), the age is the row's.
  assert.equal(workInFlight({ ...base, work_owner: myWorkOwner() }), false);
  store.close();
});

/** An engine whose container removals wait until `open()`: a dcm-userdel caught in the middle of its work. */
class GatedEngine extends FakeEngine {
  private gate: Promise<void> | null = null;
  open: () => void = () => undefined;
  hold(): void {
    this.gate = new Promise((r) => {
      this.open = r;
    });
  }
  override async remove(id: string) {
    await this.gate;
    return super.remove(id);
  }
}

test('reconcile run while a dcm-userdel of this process removes a container made long ago leaves that row to it', async () => {
  const dir = tempDir('dcm-userdel-owned-');
  const config = resolveConfig({ instance: 'unit', network: { ssh_ports: '20000-20009' } }, dir, null);
  const store = Store.open(config.dbFile);
  const engine = new GatedEngine();
  const deps: Deps = { store, engine, config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  const base = engine.addImage('dcm/debian-base:bookworm');
  store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: base, owner: null, source: null });
  const parts = assemble(deps);
  parts.users.add({ name: 'alice', keys: [KEY], groups: [] });
  const c = await parts.containers.create(store.users.get('alice')!, {});
  const db = rawDb(store);
  db.prepare("UPDATE containers SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 hour')").run();
  db.close();
  engine.hold();
  const deleting = parts.users.del('alice', { keepImages: false, keepStorage: false });
  while (store.containers.get(c.id)?.state !== 'removing') await new Promise((r) => setTimeout(r, 5));
  const r = await reconcile(deps);
  assert.deepEqual([r.staleReservations, r.usersDeleted, engine.containers.size], [[], [], 1], 'the living userdel keeps its row');
  assert.equal(store.containers.get(c.id)!.work_owner, myWorkOwner());
  engine.open();
  assert.deepEqual((await deleting).containers, [c.id]);
  assert.equal(store.users.get('alice'), undefined);
});
