/**
 * Guards of batch jobs found by reviewing them as an attacker would (fake
 * engine; the doors and the real engine are in e2e/run-jobs and
 * ssh/run-jobs-tty):
 * - `exec --root` needs a container made to let root in (the dcm.root-login
 *   label says yes; one made before the label says nothing) and a policy that
 *   still lets the user be root;
 * - an ended --rm job's row is forgotten only while it is still that job's
 *   row: its id, once freed, may already name another user's container;
 * - a flood of window changes costs the engine one resize in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import { Store } from '../../src/store/store.js';
import { assemble } from '../../src/main.js';
import type { Deps } from '../../src/manager/deps.js';
import { latestSize, pruneEndedJobs } from '../../src/manager/jobs.js';
import type { TtySize } from '../../src/engine/engine.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

const BASE = 'dcm/debian-base:bookworm';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';

function configOf(dir: string, raw: Record<string, unknown>) {
  return resolveConfig(
    { instance: 'jobguard', host: 'dcm.test', network: { ssh_ports: '20000-20009', ip_aliases: ['127.0.0.1'] }, ...raw },
    dir,
    null,
  );
}

function setup(raw: Record<string, unknown> = {}) {
  const dir = tempDir('dcm-jobguard-');
  const config = configOf(dir, raw);
  const store = Store.open(config.dbFile);
  const engine = new FakeEngine();
  const net = { isPortFree: async () => true, waitForSsh: async () => true };
  const deps: Deps = { store, engine, config, net };
  const baseId = engine.addImage(BASE);
  store.images.insert({ ref: BASE, docker_id: baseId, owner: null, source: null });
  const parts = assemble(deps);
  parts.users.add({ name: 'alice', keys: [KEY], groups: [] });
  parts.users.add({ name: 'bob', keys: [KEY], groups: [] });
  return { dir, deps, engine, store, core: parts.core, net };
}

test('exec --root: refused in a container made without the root-login label, and once the policy says user: host', async (t) => {
  const s = setup();
  t.after(() => s.store.close());
  const made = await s.core.run('alice', ['create', '--json']);
  assert.equal(made.code, 0, made.stderr);
  const { id } = JSON.parse(made.stdout) as { id: number };
  const dockerId = s.store.containers.get(id)!.docker_id!;
  const labels = s.engine.containers.get(dockerId)!.spec.labels;
  assert.equal(labels['dcm.root-login'], 'yes');
  assert.equal(
    (await s.core.run('alice', ['exec', '--root', String(id), 'id'])).code,
    0,
    'root where the container and the policy let root in',
  );

  // The administrator now says `user: host` for everyone: the same container, made under root, no longer lets alice be root.
  const host = assemble({ ...s.deps, config: configOf(s.dir, { defaults: { user: 'host' } }) });
  assert.deepEqual(await host.core.run('alice', ['exec', '--root', String(id), 'id']), {
    code: 4,
    stdout: '',
    stderr: 'dcm: exec --root is refused: you may not be root in your containers (the administrator set "user: host")\n',
  });

  // A container made before dcm labelled root logins says nothing: that is not a yes.
  delete labels['dcm.root-login'];
  assert.deepEqual(await s.core.run('alice', ['exec', '--root', String(id), 'id']), {
    code: 4,
    stdout: '',
    stderr: `dcm: exec --root is refused: container ${id} was not made to let root in\n`,
  });
  assert.equal((await s.core.run('alice', ['exec', String(id), 'id'])).code, 0, 'as herself it still runs');
});

test("an ended --rm job's row is forgotten only while it is that job's: an id taken meanwhile by another user's create stays", async (t) => {
  const s = setup();
  t.after(() => s.store.close());
  const row = {
    id: 20005,
    owner: 'alice',
    name: null,
    image_ref: BASE,
    image_id: s.store.images.get(BASE)!.docker_id,
    ip: '127.0.0.1',
    instance: 'a',
    work_owner: null,
    job: JSON.stringify({ command: ['true'], tty: false, stdin: false, root: false }),
    auto_remove: 1,
  };
  s.store.containers.insert(row);
  s.store.containers.setDockerId(row.id, 'alice-job');
  s.store.containers.setStateOwned(row.id, 'created', null);
  // While dcm asks the engine about alice's ended job, another command forgets its row and bob's create takes the freed id.
  const engine = Object.create(s.engine) as FakeEngine;
  engine.inspect = async (id: string) => {
    if (id === 'alice-job') {
      s.store.containers.delete(row.id);
      s.store.containers.insert({ ...row, owner: 'bob', instance: 'b', job: null, auto_remove: 0 });
      s.store.containers.setDockerId(row.id, 'bob-container');
      s.store.containers.setStateOwned(row.id, 'created', null);
      return null;
    }
    return s.engine.inspect(id);
  };
  assert.deepEqual(await pruneEndedJobs({ ...s.deps, engine }, 'alice'), []);
  const kept = s.store.containers.get(row.id);
  assert.deepEqual([kept?.owner, kept?.docker_id], ['bob', 'bob-container']);
});

test('3,000 window changes at once: one resize in flight at a time, and the last size is the one that stays', async () => {
  let inFlight = 0;
  let most = 0;
  const sent: TtySize[] = [];
  const resize = latestSize(async (size) => {
    inFlight++;
    most = Math.max(most, inFlight);
    sent.push(size);
    await new Promise((r) => setTimeout(r, 20));
    inFlight--;
  });
  for (let i = 1; i <= 3000; i++) resize({ cols: i, rows: 24 });
  for (const end = Date.now() + 5000; (inFlight > 0 || sent.length < 2) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
  assert.equal(most, 1);
  assert.deepEqual(sent, [
    { cols: 1, rows: 24 },
    { cols: 3000, rows: 24 },
  ]);
});
