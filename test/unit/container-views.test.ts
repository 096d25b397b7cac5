/**
 * What the managers hand the commands: a container's state and status are the
 * engine's words (never a made-up "running"/"Up"), whether root may log in
 * comes with the view (create and show print only the lines that work), and
 * whoami's --json is the manager's account view.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import type { ContainerStatus } from '../../src/engine/engine.js';
import { Store } from '../../src/store/store.js';
import { assemble } from '../../src/main.js';
import type { Deps } from '../../src/manager/deps.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';

/** An engine that words a container's state its own way, as Docker does ("Up 3 seconds"). */
class WordyEngine extends FakeEngine {
  words = (st: ContainerStatus): ContainerStatus => ({
    ...st,
    status: `${st.state === 'running' ? 'Up' : 'Exited (0)'} 3 seconds (engine words)`,
  });
  override async inspect(id: string) {
    const st = await super.inspect(id);
    return st && this.words(st);
  }
  override async list(labels: string[]) {
    return (await super.list(labels)).map(this.words);
  }
}

function setup(engine: FakeEngine = new WordyEngine()) {
  const dir = tempDir('dcm-views-');
  const config = resolveConfig(
    {
      instance: 'views',
      host: 'dcm.test',
      network: { ssh_ports: '20000-20009', ip_aliases: ['127.0.0.1'] },
      groups: { hosted: { user: 'host' } },
    },
    dir,
    null,
  );
  const store = Store.open(config.dbFile);
  const deps: Deps = { store, engine, config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  const baseId = engine.addImage('dcm/debian-base:bookworm');
  store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: baseId, owner: null, source: null });
  const parts = assemble(deps);
  const users = parts.users;
  users.add({ name: 'alice', keys: [KEY], groups: [] });
  users.add({ name: 'hana', keys: [KEY], groups: ['hosted'] });
  return { deps, engine, store, users, containers: parts.containers, core: parts.core };
}

test('create returns the state and status the engine reports, not an invented "running"/"Up"', async () => {
  const t = setup();
  const c = await t.containers.create(t.store.users.get('alice')!, {});
  assert.equal(c.state, 'running');
  assert.equal(c.status, 'Up 3 seconds (engine words)');
  // An engine that reports something else right after create is believed too.
  const id = t.store.containers.get(c.id)!.docker_id!;
  t.engine.containers.get(id)!.state = 'restarting';
  assert.deepEqual(
    [(await t.containers.get('alice', String(c.id))).state, (await t.containers.list('alice'))[0]!.status],
    ['restarting', 'Exited (0) 3 seconds (engine words)'],
  );
  const r = await t.core.run('alice', ['create', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).status, 'Up 3 seconds (engine words)');
});

test('create is believed from the engine even when the container stopped at once', async () => {
  class StopsAtOnce extends WordyEngine {
    override async inspect(id: string) {
      const st = await super.inspect(id);
      return st && { ...st, state: 'exited' as const, status: 'Exited (1) 1 second ago' };
    }
  }
  const t = setup(new StopsAtOnce());
  const r = await t.core.run('alice', ['create']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[0], 'container 20000 from dcm/debian-base:bookworm is exited');
});

test("root login is part of the view: under user: host, create and show print only the user's line", async () => {
  const t = setup();
  const alice = await t.core.run('alice', ['create', '--name', 'lab']);
  assert.equal(
    alice.stdout,
    'container 20000 (lab) from dcm/debian-base:bookworm is running\n  ssh -p 20000 root@dcm.test\n  ssh -p 20000 alice@dcm.test\n',
  );
  const hana = await t.core.run('hana', ['create', '--name', 'lab']);
  assert.equal(hana.stdout, 'container 20001 (lab) from dcm/debian-base:bookworm is running\n  ssh -p 20001 hana@dcm.test\n');
  assert.equal((await t.core.run('hana', ['show', 'lab'])).stdout, hana.stdout);
  assert.equal((await t.core.run('alice', ['show', 'lab'])).stdout, alice.stdout);
  assert.deepEqual([(await t.containers.get('alice', 'lab')).rootLogin, (await t.containers.get('hana', 'lab')).rootLogin], [true, false]);
  // Recorded on the container as it was made, whatever label an image committed from another container carries.
  const specs = [...t.engine.containers.values()].map((c) => c.spec.labels['dcm.root-login']);
  assert.deepEqual(specs, ['yes', 'no']);
});

test("whoami --json is the manager's account view, field for field", async () => {
  const t = setup();
  await t.containers.create(t.store.users.get('hana')!, {});
  const view = await t.users.account(t.store.users.get('hana')!, t.containers);
  const r = await t.core.run('hana', ['whoami', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, JSON.stringify(view, null, 2) + '\n');
  assert.deepEqual(Object.keys(view), [
    'user',
    'uid',
    'gid',
    'groups',
    'keys',
    'limits',
    'usage',
    'presets',
    'mounts',
    'alwaysMounts',
    'runAs',
    'storage',
  ]);
  assert.deepEqual([view.runAs, view.usage.containers, view.usage.running, view.limits.memoryBytes], ['host', 1, 1, 2 * 1024 ** 3]);
});
