/**
 * Key revocation, kept images and storage re-owning on a fake engine: a
 * revocation the files refuse still stands and holds the user's containers;
 * images kept at dcm-userdel survive reconcile; dcm-userdel removes an image
 * by tag only while the tag still names it; re-owning never makes storage.
 */
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { Store } from '../../src/store/store.js';
import type { CommandCore } from '../../src/shell/core.js';
import { assemble } from '../../src/main.js';
import { UserManager } from '../../src/manager/user-manager.js';
import { reconcile } from '../../src/manager/reconcile.js';
import { reownUserDirs } from '../../src/storage/reown.js';
import { storageOwners } from '../../src/storage/id-map.js';
import { ensureUserDirs } from '../../src/storage/user-dirs.js';
import { DcmError } from '../../src/errors.js';
import type { Deps } from '../../src/manager/deps.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

const KEY1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl one';
const KEY2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0cHwuzSa5Nvzn8vyH0iqAhdAB4Ak3z6RgbzT0pRpIS two';

let engine: FakeEngine;
let core: CommandCore;
let store: Store;
let deps: Deps;
let um: UserManager;

beforeEach(() => {
  const dir = tempDir('dcm-revoke-');
  const config = resolveConfig({ instance: 'unit', network: { ssh_ports: '20000-20002', ip_aliases: ['127.0.0.1'] } }, dir, null);
  store = Store.open(config.dbFile);
  engine = new FakeEngine();
  deps = { store, engine, config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  core = assemble(deps).core;
  const baseId = engine.addImage('dcm/debian-base:bookworm');
  store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: baseId, owner: null, source: null });
  um = new UserManager(deps);
  um.add({ name: 'alice', keys: [KEY1, KEY2], groups: [] });
});

async function json(user: string, line: string) {
  const r = await core.run(user, [...line.split(' '), '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const storage = () => join(deps.config.storageDir, 'alice');
const fp2 = () => store.users.keys('alice').find((k) => k.comment === 'two')!.fingerprint;

test('a revocation refused by the files (root/.ssh a link) stands in the database, stops and holds the containers until --sync', async () => {
  const c = await json('alice', 'create');
  const fp = fp2();
  const sshDir = join(storage(), 'root', '.ssh');
  rmSync(sshDir, { recursive: true });
  symlinkSync('/tmp', sshDir);
  await assert.rejects(
    um.removeKeys('alice', [fp]),
    (e) =>
      e instanceof DcmError &&
      e.code === 'conflict' &&
      e.userMessage ===
        `key ${fp} revoked in dcm logins, but ${sshDir} is a symbolic link or not a directory; refusing to follow it; alice's containers stopped (${c.id}) and held until you remove it and run dcm-admin users key alice --sync`,
  );
  assert.deepEqual(
    store.users.keys('alice').map((k) => k.comment),
    ['one'],
    'the key is gone from dcm logins',
  );
  assert.equal(store.users.get('alice')!.keys_unsynced, 1);
  assert.equal(engine.containers.get(store.containers.get(c.id)!.docker_id!)!.state, 'exited');
  const start = await core.run('alice', ['start', String(c.id)]);
  assert.equal(
    start.stderr,
    'dcm: a key of alice was revoked but their authorized_keys files refused the change: no container can be created or started until the administrator repairs them\n',
  );
  assert.equal(start.code, 4);
  assert.equal((await core.run('alice', ['create'])).code, 4);
  // The admin's remedy: remove the link, then --sync writes exactly dcm's keys.
  rmSync(sshDir);
  um.syncKeys('alice');
  assert.equal(store.users.get('alice')!.keys_unsynced, 0);
  assert.equal(readFileSync(join(sshDir, 'authorized_keys'), 'utf8'), KEY1 + '\n');
  assert.equal(readFileSync(join(storage(), 'home', '.ssh', 'authorized_keys'), 'utf8'), KEY1 + '\n');
  assert.equal((await core.run('alice', ['start', String(c.id)])).code, 0);
});
test('an added key refused by the files is still all-or-nothing (no hold)', async () => {
  const sshDir = join(storage(), 'home', '.ssh');
  rmSync(sshDir, { recursive: true });
  symlinkSync('/tmp', sshDir);
  const k3 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ+m+rWpsb5MGrLS+jhjMPS2g0uMJkvfvlwfLEmwLaAj three';
  assert.throws(
    () => um.addKeys('alice', [k3]),
    (e) => e instanceof DcmError && /home\/\.ssh is a symbolic link/.test(e.userMessage),
  );
  assert.deepEqual(
    store.users.keys('alice').map((k) => k.comment),
    ['one', 'two'],
    'the database got its old keys back',
  );
  assert.equal(store.users.get('alice')!.keys_unsynced, 0);
});

test('--set refused by the files (home/.ssh a link) stands and holds', async () => {
  const sshDir = join(storage(), 'home', '.ssh');
  rmSync(sshDir, { recursive: true });
  symlinkSync('/tmp', sshDir);
  await assert.rejects(
    um.setKeys('alice', [KEY1]),
    (e) =>
      e instanceof DcmError &&
      e.userMessage ===
        `keys replaced in dcm logins, but ${sshDir} is a symbolic link or not a directory; refusing to follow it; alice's containers held until you remove it and run dcm-admin users key alice --sync`,
  );
  assert.deepEqual(
    store.users.keys('alice').map((k) => k.comment),
    ['one'],
  );
  assert.equal(store.users.get('alice')!.keys_unsynced, 1);
});

test('images kept by dcm-userdel --keep-images survive reconcile; once removed from the engine their record goes', async () => {
  const c = await json('alice', 'create');
  await json('alice', `commit ${c.id} snap`);
  const id = store.images.get('dcm/u/alice/snap:latest')!.docker_id;
  const rep = await um.del('alice', { keepImages: true, keepStorage: false });
  assert.deepEqual(rep.keptImages, ['dcm/u/alice/snap:latest']);
  const r = await reconcile(deps, {});
  assert.deepEqual(r.imagesWithoutRow, []);
  assert.ok(engine.images.has(id), 'the kept image is still in the engine');
  engine.images.delete(id); // the admin removed it with docker rmi
  const r2 = await reconcile(deps, {});
  assert.deepEqual(r2.imagesWithoutEngineImage, ['dcm/u/alice/snap:latest']);
  assert.deepEqual(store.images.kept(), []);
});

test('dcm-userdel removes an image by its tag only while the tag still names that image', async () => {
  const c = await json('alice', 'create');
  await json('alice', `commit ${c.id} snap`);
  const mine = store.images.get('dcm/u/alice/snap:latest')!.docker_id;
  // The tag now names an image that is not this row's (e.g. an admin's).
  const other = engine.addImage('other:latest');
  await engine.tag(other, 'dcm/u/alice/snap', 'latest');
  await um.del('alice', { keepImages: false, keepStorage: false });
  assert.ok(engine.images.has(other), 'the image the tag names now is left alone');
  assert.ok(!engine.images.has(mine), "the row's own image (this installation's) is removed by id");
});

test('re-owning storage refuses a missing user directory, root/ or home/ instead of making it again', () => {
  const owners = storageOwners(null, 5000, 5000);
  for (const gone of ['root', 'home', '']) {
    ensureUserDirs(deps.config.storageDir, 'alice', 5000, 5000, [KEY1]);
    const path = gone ? join(storage(), gone) : storage();
    rmSync(path, { recursive: true });
    assert.throws(
      () => reownUserDirs(deps.config.storageDir, 'alice', owners),
      (e) =>
        e instanceof DcmError &&
        e.userMessage ===
          `${path} is missing; storage is made only by dcm-useradd (the user may be being deleted; the administrator can check with dcm-admin users)`,
    );
    assert.equal(existsSync(path), false, `${gone || 'the user directory'} was not made again`);
  }
});
