/** Starts and commits in flight count against max_running and images.max_own inside the transaction. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import { Store } from '../../src/store/store.js';
import { DcmError } from '../../src/errors.js';
import { claimStartInTx, settleStart } from '../../src/manager/start-claim.js';
import { claimCommit, recordCommit } from '../../src/manager/commit-claim.js';
import { createContainer } from '../../src/manager/create-container.js';
import type { Deps } from '../../src/manager/deps.js';
import type { ContainerRow } from '../../src/store/containers-repo.js';
import { realHostNet } from '../../src/net/host-net.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

function setup(): { deps: Deps; rows: ContainerRow[] } {
  const dir = tempDir('dcm-claims-');
  const config = resolveConfig({ instance: 'unit', defaults: { limits: { max_running: 1 }, images: { max_own: 1 } } }, dir, null);
  const store = Store.open(config.dbFile);
  store.users.insert({ name: 'alice', uid: 1000, gid: 1000 });
  const rows: ContainerRow[] = [];
  for (const id of [20000, 20001]) {
    store.containers.insert({ id, owner: 'alice', name: null, image_ref: 'x:1', image_id: 'sha256:1', ip: '127.0.0.1', instance: 'i' });
    store.containers.setState(id, 'created');
    rows.push(store.containers.get(id)!);
  }
  return { deps: { store, engine: new FakeEngine(), config, net: realHostNet }, rows };
}

const isLimit = (re: RegExp) => (e: unknown) => e instanceof DcmError && e.code === 'limit' && re.test(e.userMessage);

test('a start in flight in another process counts against max_running until it fails or is seen by the engine', () => {
  const { deps, rows } = setup();
  const [one, two] = rows as [ContainerRow, ContainerRow];
  const before = { at: Date.now(), ids: new Set<number>() };
  deps.store.tx(() => claimStartInTx(deps, one, before));
  // The second process read the engine before the first start finished: the claim counts.
  assert.throws(
    () => deps.store.tx(() => claimStartInTx(deps, two, before)),
    isLimit(/^limit reached: 1 of 1 running containers allowed; stop one first — policy: limits\.max_running 1 \(defaults\)$/),
  );
  settleStart(deps, one, true);
  assert.throws(
    () => deps.store.tx(() => claimStartInTx(deps, two, before)),
    isLimit(/1 of 1 running/),
    'a start that finished after our engine read still counts',
  );
  // A reader that looked at the engine well after the start finished relies on the engine.
  assert.doesNotThrow(() => deps.store.tx(() => claimStartInTx(deps, two, { at: Date.now() + 10_000, ids: new Set() })));
  // A failed start frees its slot at once.
  settleStart(deps, two, false);
  settleStart(deps, one, false);
  assert.doesNotThrow(() => deps.store.tx(() => claimStartInTx(deps, two, before)));
  // Starting the same container twice takes one slot, not two.
  assert.doesNotThrow(() => deps.store.tx(() => claimStartInTx(deps, two, before)));
});

test('a commit in flight holds its quota slot and its name until recorded or dropped', () => {
  const { deps } = setup();
  const taken = () => new DcmError('conflict', 'taken');
  claimCommit(deps, 'alice', 'dcm/u/alice/a:latest', taken);
  assert.throws(
    () => claimCommit(deps, 'alice', 'dcm/u/alice/b:latest', taken),
    isLimit(/^limit reached: you have 1 of 1 images allowed; remove one with rmi first — policy: images\.max_own 1 \(defaults\)$/),
  );
  recordCommit(deps, 'alice', 'dcm/u/alice/a:latest', 'sha256:a', 20000, taken);
  assert.equal(deps.store.claims.commitsInFlight('alice'), 0);
  assert.throws(() => claimCommit(deps, 'alice', 'dcm/u/alice/b:latest', taken), isLimit(/you have 1 of 1 images/));
  deps.store.images.delete('dcm/u/alice/a:latest');
  claimCommit(deps, 'alice', 'dcm/u/alice/b:latest', taken);
  deps.store.claims.dropCommit('dcm/u/alice/b:latest');
  assert.doesNotThrow(() => claimCommit(deps, 'alice', 'dcm/u/alice/b:latest', taken));
});

test('a create counts a start another process claimed but the engine does not show yet (max_running)', async () => {
  const { deps, rows } = setup();
  const engine = deps.engine as FakeEngine;
  const baseId = engine.addImage('dcm/debian-base:bookworm');
  deps.store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: baseId, owner: null, source: null });
  // Another process is starting container 20000: claimed in the database, not yet running in the engine.
  deps.store.tx(() => claimStartInTx(deps, rows[0]!, { at: Date.now(), ids: new Set() }));
  const d = { ...deps, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  await assert.rejects(
    createContainer(d, deps.store.users.get('alice')!, {}),
    isLimit(/^limit reached: 1 of 1 running containers allowed; stop one first — policy: limits\.max_running 1 \(defaults\)$/),
  );
  assert.equal(deps.store.containers.byOwner('alice').length, 2, 'no row was reserved');
  // Once that start has failed, the slot is free again and the same create gets past max_running.
  settleStart(deps, rows[0]!, false);
  await assert.rejects(
    createContainer(d, deps.store.users.get('alice')!, {}),
    (e: unknown) => !(e instanceof DcmError && /max_running/.test(e.userMessage)),
  );
});
