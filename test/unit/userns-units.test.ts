/**
 * Engine user namespaces and mount flags, without Docker: reading the mapping
 * from docker info and /etc/subuid, storage owners, mountinfo lookups, the
 * rw-mount warnings, and the create saga on a fake remapping engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { remapFromFacts } from '../../src/engine/userns-remap.js';
import { storageOwners } from '../../src/storage/id-map.js';
import { mountOf, parseMountInfo, setuidSubmounts } from '../../src/storage/mount-flags.js';
import { rwMountWarnings } from '../../src/policy/rw-mount-warnings.js';
import { Store } from '../../src/store/store.js';
import { assemble } from '../../src/main.js';
import { UserManager } from '../../src/manager/user-manager.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';
import type { UsernsRemap } from '../../src/engine/engine.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';

const remapped = { securityOptions: ['name=seccomp,profile=default', 'name=userns'], dockerRootDir: '/var/lib/docker/100000.100000' };

test("the mapping comes from docker info (userns on, root dir <uid>.<gid>) and the remap account's subuid/subgid lines", () => {
  assert.equal(remapFromFacts({ securityOptions: ['name=seccomp,profile=default'], dockerRootDir: '/var/lib/docker' }, '', ''), null);
  const sub = 'alice:300000:65536\ndockremap:100000:65536\ndockremap:500000:1000000\n';
  assert.deepEqual(remapFromFacts(remapped, sub, sub), {
    user: 'dockremap',
    uidBase: 100000,
    gidBase: 100000,
    uids: [
      { containerId: 0, hostId: 100000, size: 65536 },
      { containerId: 65536, hostId: 500000, size: 1000000 },
    ],
    gids: [
      { containerId: 0, hostId: 100000, size: 65536 },
      { containerId: 65536, hostId: 500000, size: 1000000 },
    ],
  });
  // No line for the base: dockerd's own 65536 is assumed, so a big uid is refused rather than guessed.
  assert.deepEqual(remapFromFacts(remapped, '', '')!.uids, [{ containerId: 0, hostId: 100000, size: 65536 }]);
  assert.throws(() => remapFromFacts({ ...remapped, dockerRootDir: '/srv/docker' }, '', ''), /cannot tell its id mapping/);
});

test('storage owners: plain ids without remap; shifted ids with it; a uid outside the range is one clear refusal', () => {
  assert.deepEqual(storageOwners(null, 200001, 200001), { root: { uid: 0, gid: 0 }, home: { uid: 200001, gid: 200001 } });
  const r: UsernsRemap = remapFromFacts(remapped, 'dockremap:100000:65536\n', 'dockremap:100000:65536\n')!;
  assert.deepEqual(storageOwners(r, 1001, 1002), { root: { uid: 100000, gid: 100000 }, home: { uid: 101001, gid: 101002 } });
  assert.throws(
    () => storageOwners(r, 200001, 200001),
    (e: Error) =>
      e.message ===
      "uid 200001 is outside the engine's user namespace (dockremap 100000:65536): the administrator must give that account a larger range in /etc/subuid and /etc/subgid (covering storage.uid_range) and restart dockerd",
  );
});

test('mountinfo: the longest mount point holding the path decides; escapes and stacked mounts', () => {
  const info = [
    '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '40 26 0:40 / /srv rw,nosuid,nodev - tmpfs tmpfs rw',
    '41 40 0:41 / /srv/data rw,relatime - tmpfs tmpfs rw',
    '42 26 0:42 / /mnt/my\\040disk rw,nosuid - tmpfs tmpfs rw',
    '43 40 0:43 / /srv rw,relatime - tmpfs tmpfs rw',
  ].join('\n');
  const m = parseMountInfo(info);
  assert.equal(mountOf(m, '/srv/data/x')!.mountPoint, '/srv/data');
  assert.equal(mountOf(m, '/srv/database')!.mountPoint, '/srv', 'a prefix must end at a path component');
  assert.deepEqual(mountOf(m, '/srv/database')!.options, ['rw', 'relatime'], 'the last mount stacked on a point is the visible one');
  assert.ok(mountOf(m, '/mnt/my disk/a')!.options.includes('nosuid'));
  assert.equal(mountOf(m, '/etc')!.mountPoint, '/');
  assert.deepEqual(setuidSubmounts(m, '/srv'), ['/srv/data'], 'a recursive bind of /srv brings /srv/data along');
  assert.deepEqual(setuidSubmounts(m, '/srv/data'), []);
});

test('policy check warnings: a rw mount offered to a layer that logs in as root, directly or by preset', () => {
  const cfg = resolveConfig(
    {
      mounts: { scratch: { source: '/s', target: '/s', mode: 'rw' }, data: { source: '/d', target: '/d' } },
      presets: { big: { mounts: ['scratch'] } },
      groups: { staff: { mounts: { allow: ['scratch', 'data'] } }, hosted: { user: 'host', mounts: { always: ['scratch'] } } },
      users: { ann: { presets: ['big'] } },
    },
    '/tmp',
    null,
  );
  assert.deepEqual(rwMountWarnings(cfg), [
    {
      level: 'warning',
      field: 'mounts.scratch',
      message:
        "read-write and offered by groups.staff, whose users log in as root: each of them can read and change the others' files there (set user: host for them, or make the mount ro)",
    },
    {
      level: 'warning',
      field: 'mounts.scratch',
      message:
        "read-write and offered by users.ann, whose users log in as root: each of them can read and change the others' files there (set user: host for them, or make the mount ro)",
    },
  ]);
});

test('fake remapping engine: useradd and create own the storage by mapped ids; an out-of-range uid is refused with nothing made', async () => {
  const dir = tempDir('dcm-unit-userns-');
  const config = resolveConfig(
    { instance: 'unit', network: { ssh_ports: '20000-20002' }, storage: { uid_range: '60000-70000' } },
    dir,
    null,
  );
  const store = Store.open(config.dbFile);
  const engine = new FakeEngine();
  engine.usernsRemap = remapFromFacts(remapped, 'dockremap:100000:65536\n', 'dockremap:100000:65536\n');
  const deps = { store, engine, config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  const base = engine.addImage('dcm/debian-base:bookworm');
  store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: base, owner: null, source: null });
  const um = new UserManager(deps);
  um.add({ name: 'alice', keys: [KEY], groups: [] }, engine.usernsRemap);
  const own = (p: string) => `${statSync(join(config.storageDir, p)).uid}:${statSync(join(config.storageDir, p)).gid}`;
  assert.equal(own('alice/root'), '100000:100000');
  assert.equal(own('alice/home/.ssh/authorized_keys'), '160000:160000');
  // 60000..65535 fit; the next free uid after 65535 does not.
  store.users.insert({ name: 'bob', uid: 65535, gid: 65535 });
  assert.throws(
    () => um.add({ name: 'carol', keys: [KEY], groups: [] }, engine.usernsRemap),
    /uid 65536 is outside the engine's user namespace \(dockremap 100000:65536\)/,
  );
  assert.equal(store.users.get('carol'), undefined);
  const core = assemble(deps).core;
  const ok = await core.run('alice', ['create']);
  assert.equal(ok.code, 0, ok.stderr);
  store.users.insert({ name: 'dan', uid: 70000, gid: 70000 });
  const r = await core.run('dan', ['create']);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /uid 70000 is outside the engine's user namespace/);
  assert.equal(store.containers.byOwner('dan').length, 0);
  assert.equal(engine.containers.size, 1);
});
