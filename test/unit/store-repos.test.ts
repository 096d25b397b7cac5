/**
 * The store keeps its database handle to itself: every query a caller needs
 * is a repository method (login keys, reconcile's image lists, the SSH port
 * cursor, users' networks), and messages name the file through `path`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/tmp.js';

const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAIH0cHwuzSa5Nvzn8vyH0iqAhdAB4Ak3z6RgbzT0pRpIS';

function open(): { store: Store; file: string } {
  const file = join(tempDir('dcm-repos-'), 'dcm.db');
  return { store: Store.open(file), file };
}

const addKey = (s: Store, user: string, b64: string) =>
  s.users.addKey({ user, algo: 'ssh-ed25519', key_b64: b64, comment: '', fingerprint: `fp-${user}-${b64.slice(-4)}` });

test('the database handle is not reachable from outside the store; its file is', () => {
  const { store, file } = open();
  assert.equal('db' in store, false);
  assert.equal(
    Object.values(store).some((v) => v?.constructor?.name === 'Database'),
    false,
  );
  assert.equal(store.path, file);
  store.close();
});

test('UsersRepo.keyFor finds exactly the key registered to that user, and none for a blocked user', () => {
  const { store } = open();
  store.users.insert({ name: 'alice', uid: 1000, gid: 1000 });
  store.users.insert({ name: 'bob', uid: 1001, gid: 1001 });
  addKey(store, 'alice', KEY_A);
  addKey(store, 'bob', KEY_B);
  const blob = (b64: string) => Buffer.from(b64, 'base64');
  assert.deepEqual(store.users.keyFor('alice', blob(KEY_A)), { algo: 'ssh-ed25519', key_b64: KEY_A });
  assert.equal(store.users.keyFor('alice', blob(KEY_B)), undefined, "bob's key does not open alice");
  assert.equal(store.users.keyFor('carol', blob(KEY_A)), undefined, 'no such user');
  assert.equal(store.users.keyFor('', blob(KEY_A)), undefined);
  assert.equal(store.users.keyFor('alice', blob(KEY_A).subarray(1)), undefined, 'a prefix of the key is not the key');
  store.users.setBlocked('alice', true);
  assert.equal(store.users.keyFor('alice', blob(KEY_A)), undefined, 'blocked by dcm-userdel');
  store.close();
});

test("reconcile's image lists: users' images, and every image id a row refers to", () => {
  const { store } = open();
  store.users.insert({ name: 'alice', uid: 1000, gid: 1000 });
  store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: 'sha256:base', owner: null, source: null });
  store.images.insert({ ref: 'dcm/u/alice/snap:latest', docker_id: 'sha256:snap', owner: 'alice', source: null });
  store.images.keep('sha256:kept', 'dcm/u/gone/old:latest', 'gone');
  store.containers.insert({
    id: 20000,
    owner: 'alice',
    name: null,
    image_ref: 'x:1',
    image_id: 'sha256:ofcontainer',
    ip: '127.0.0.1',
    instance: 'i',
  });
  assert.deepEqual(
    store.images.allOwned().map((i) => i.ref),
    ['dcm/u/alice/snap:latest'],
  );
  assert.deepEqual([...store.images.referencedDockerIds()].sort(), ['sha256:base', 'sha256:kept', 'sha256:ofcontainer', 'sha256:snap']);
  store.close();
});

test('the SSH port cursor starts empty and keeps the port handed out last', () => {
  const { store } = open();
  assert.equal(store.sshPortCursor.read(), null);
  store.tx(() => store.sshPortCursor.move(20005));
  store.tx(() => store.sshPortCursor.move(20007));
  assert.equal(store.sshPortCursor.read(), 20007);
  store.close();
  const again = Store.open(store.path);
  assert.equal(again.sshPortCursor.read(), 20007);
  again.close();
});
