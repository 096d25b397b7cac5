/** Users' own networks on a fake engine: one per user under races, blocks the engine refuses, removal. */
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import { DcmError } from '../../src/errors.js';
import { Store } from '../../src/store/store.js';
import { rawDb } from '../helpers/raw-db.js';
import { ensureUserNetwork as ensureWithRoutes, removeStaleNetworks, removeUserNetwork } from '../../src/manager/user-network.js';
import { parseCidr, type Cidr } from '../../src/net/user-subnets.js';
import type { Deps } from '../../src/manager/deps.js';
import type { UserRow } from '../../src/store/users-repo.js';
import type { ContainerSpec } from '../../src/engine/engine.js';
import { realHostNet } from '../../src/net/host-net.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

let deps: Deps;
let engine: FakeEngine;
let store: Store;
let alice: UserRow;
let bob: UserRow;

beforeEach(() => {
  const dir = tempDir('dcm-unit-net-');
  const config = resolveConfig({ instance: 'unit', network: { user_subnets: '10.213.0.0/24' } }, dir, null);
  store = Store.open(config.dbFile);
  engine = new FakeEngine();
  deps = { store, engine, config, net: realHostNet };
  store.users.insert({ name: 'alice', uid: 200000, gid: 200000 });
  store.users.insert({ name: 'bob', uid: 200001, gid: 200001 });
  alice = store.users.get('alice')!;
  bob = store.users.get('bob')!;
  routes = [];
});

/** This host's real routes (other runs' networks among them) must not decide these tests: routes are given. */
let routes: Cidr[] = [];
const ensureUserNetwork = (d: Deps, u: UserRow) => ensureWithRoutes(d, u, () => routes);
const subnetOf = async (name: string) => (await engine.inspectNetwork(name))!.subnets[0];
const attach = (network: string) => engine.createContainer({ network, labels: {} } as unknown as ContainerSpec);

test('the first create makes the network; later ones reuse it; users get distinct blocks', async () => {
  const a = await ensureUserNetwork(deps, alice);
  assert.match(a, /^unit-[0-9a-f]{8}-net-alice-[0-9a-f]{12}$/);
  assert.equal(await ensureUserNetwork(deps, alice), a);
  const b = await ensureUserNetwork(deps, bob);
  assert.equal(await subnetOf(a), '10.213.0.0/27');
  assert.equal(await subnetOf(b), '10.213.0.32/27');
  const n = (await engine.inspectNetwork(a))!;
  assert.deepEqual(n.labels, {
    'dcm.managed': '1',
    'dcm.owner': 'alice',
    'dcm.network': n.labels['dcm.network'],
    'dcm.instance': 'unit',
    'dcm.installation': store.installation.id,
  });
});

test('parallel first creates of one user make one network', async () => {
  const names = await Promise.all(Array.from({ length: 5 }, () => ensureUserNetwork(deps, alice)));
  assert.equal(new Set(names).size, 1);
  assert.equal(engine.networks.size, 1);
});

test('blocks used by networks dcm does not know are skipped, also when the engine refuses one during a race', async () => {
  await engine.createNetwork({ name: 'admins-own', subnet: '10.213.0.0/26', labels: {} });
  const a = await ensureUserNetwork(deps, alice);
  assert.equal(await subnetOf(a), '10.213.0.64/27');
  // Another installation takes 10.213.0.96/27 between dcm's look and its create.
  const real = engine.createNetwork.bind(engine);
  let raced = false;
  engine.createNetwork = async (spec) => {
    if (!raced) {
      raced = true;
      await real({ name: 'other-install', subnet: spec.subnet, labels: {} });
    }
    return real(spec);
  };
  const b = await ensureUserNetwork(deps, bob);
  assert.equal(await subnetOf(b), '10.213.0.128/27');
  assert.deepEqual(store.networks.subnets().sort(), ['10.213.0.128/27', '10.213.0.64/27']);
});

test("blocks the host routes (a site network, another engine's bridge) are skipped", async () => {
  routes = [parseCidr('10.213.0.0/26')!];
  assert.equal(await subnetOf(await ensureUserNetwork(deps, alice)), '10.213.0.64/27');
});

test('a full range refuses with one line for the user and the reason for the admin', async () => {
  await engine.createNetwork({ name: 'admins-own', subnet: '10.213.0.0/25', labels: {} });
  await engine.createNetwork({ name: 'admins-other', subnet: '10.213.0.128/26', labels: {} });
  await ensureUserNetwork(deps, alice);
  await ensureUserNetwork(deps, bob);
  store.users.insert({ name: 'carol', uid: 200002, gid: 200002 });
  await assert.rejects(
    ensureUserNetwork(deps, store.users.get('carol')!),
    (e: unknown) =>
      e instanceof DcmError &&
      e.code === 'limit' &&
      e.userMessage === 'no network address block left for your containers; ask the administrator' &&
      e.adminDetail === 'network.user_subnets 10.213.0.0/24 has no free /27 left (in use by dcm, other Docker networks or host routes)',
  );
});

test("a network removed behind dcm's back is made again with the same block", async () => {
  const a = await ensureUserNetwork(deps, alice);
  const id = (await engine.inspectNetwork(a))!.id;
  await engine.removeNetwork(id);
  assert.equal(await ensureUserNetwork(deps, alice), a);
  assert.equal(await subnetOf(a), '10.213.0.0/27');
});

test('a network an interrupted create left in the engine is adopted, not duplicated', async () => {
  const a = await ensureUserNetwork(deps, alice);
  // As if the process died after the engine made it, before recording its id.
  const raw = rawDb(store);
  raw.prepare('UPDATE user_networks SET docker_id = NULL').run();
  raw.close();
  assert.equal(await ensureUserNetwork(deps, alice), a);
  assert.equal(engine.networks.size, 1);
});

test('removal: done when nothing is attached; otherwise reported, the block stays reserved, and a later sweep finishes it', async () => {
  const a = await ensureUserNetwork(deps, alice);
  assert.deepEqual(await removeUserNetwork(deps, 'alice'), { name: a, removed: true });
  assert.equal(engine.networks.size, 0);
  assert.equal(await removeUserNetwork(deps, 'alice'), null);

  const b = await ensureUserNetwork(deps, bob);
  const stray = await attach(b);
  const r = await removeUserNetwork(deps, 'bob');
  assert.equal(r!.removed, false);
  assert.match(r!.error!, /has active endpoints/);
  store.users.delete('bob');
  // bob's block is still held: the next network gets another one.
  const again = await ensureUserNetwork(deps, alice);
  assert.equal(await subnetOf(again), '10.213.0.32/27');
  assert.equal(await subnetOf(b), '10.213.0.0/27');
  assert.deepEqual(
    (await removeStaleNetworks(deps)).map((x) => x.removed),
    [false],
  );
  await engine.remove(stray);
  assert.deepEqual(await removeStaleNetworks(deps, { dryRun: true }), [{ name: b, removed: false }]);
  assert.equal(await subnetOf(b), '10.213.0.0/27', 'a dry run changes nothing');
  assert.deepEqual(await removeStaleNetworks(deps), [{ name: b, removed: true }]);
  assert.deepEqual(
    [...engine.networks.values()].map((n) => n.name),
    [again],
  );
});
