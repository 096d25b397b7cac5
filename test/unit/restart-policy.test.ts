/**
 * Reconcile and restart policies: a container made before dcm set one (no
 * dcm.restart label, policy 'no') is given unless-stopped, once; containers
 * made now are not asked about; a dry run only reports. The policy on the
 * real engine, across its restart: test/e2e/engine-restart.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import { Store } from '../../src/store/store.js';
import { assemble } from '../../src/main.js';
import { reconcile } from '../../src/manager/reconcile.js';
import { reconcileAtStart } from '../../src/manager/reconcile-at-start.js';
import type { Deps } from '../../src/manager/deps.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';

/** An engine that counts inspects: containers made now must not cost one each at every reconcile. */
class CountingEngine extends FakeEngine {
  inspected: string[] = [];
  override async inspect(id: string) {
    this.inspected.push(id);
    return super.inspect(id);
  }
}

async function setup() {
  const dir = tempDir('dcm-restart-policy-');
  const config = resolveConfig({ instance: 'rp', network: { ssh_ports: '20000-20009', ip_aliases: ['127.0.0.1'] } }, dir, null);
  const store = Store.open(config.dbFile);
  const engine = new CountingEngine();
  const deps: Deps = { store, engine, config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  const baseId = engine.addImage('dcm/debian-base:bookworm');
  store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: baseId, owner: null, source: null });
  const parts = assemble(deps);
  parts.users.add({ name: 'alice', keys: [KEY], groups: [] });
  const alice = store.users.get('alice')!;
  const old = await parts.containers.create(alice, {});
  const now = await parts.containers.create(alice, {});
  const dockerId = (id: number) => store.containers.get(id)!.docker_id!;
  // Made by an earlier dcm: no restart label, and the engine holds policy 'no'.
  delete engine.containers.get(dockerId(old.id))!.spec.labels['dcm.restart'];
  engine.inspected = [];
  return { deps, engine, old, now, dockerId };
}

test('reconcile gives a container made before restart policies unless-stopped, once; new ones are not asked about', async () => {
  const { deps, engine, old, dockerId } = await setup();
  const dry = await reconcile(deps, { dryRun: true });
  assert.deepEqual([dry.restartPolicySet, engine.restartPolicySet], [[old.id], []], 'a dry run only reports');
  const rep = await reconcile(deps);
  assert.deepEqual([rep.restartPolicySet, engine.restartPolicySet], [[old.id], [dockerId(old.id)]]);
  assert.deepEqual(
    [rep.rowsWithoutContainer, rep.containersWithoutRow, rep.staleReservations],
    [[], [], []],
    'nothing else is repaired: both rows and containers stay',
  );
  assert.equal(engine.containers.size, 2);
  engine.inspected = [];
  const again = await reconcile(deps);
  assert.deepEqual(again.restartPolicySet, []);
  assert.deepEqual(engine.inspected, [], 'the unlabelled container, found with the policy once, is not asked again');
});

test('an unlabelled container that already has the policy is inspected at one reconcile, not at every one', async () => {
  const { deps, engine, old, dockerId } = await setup();
  engine.restartPolicySet.push(dockerId(old.id)); // given by an earlier dcm, before the mark existed
  const first = await reconcile(deps);
  assert.deepEqual([first.restartPolicySet, engine.restartPolicySet.length, engine.inspected], [[], 1, [dockerId(old.id)]]);
  engine.inspected = [];
  for (let i = 0; i < 3; i++) assert.deepEqual((await reconcile(deps)).restartPolicySet, []);
  assert.deepEqual(engine.inspected, []);
});

test('dcm-server start reports the containers given the policy among what it repaired', async () => {
  const { deps } = await setup();
  const lines: string[] = [];
  await reconcileAtStart(deps, (l) => lines.push(l));
  assert.deepEqual(lines, ['reconcile: repaired 1 item(s)']);
  lines.length = 0;
  await reconcileAtStart(deps, (l) => lines.push(l));
  assert.deepEqual(lines, ['reconcile: nothing to repair']);
});
