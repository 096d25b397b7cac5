/**
 * GPU reservations on the real engine with fake device nodes (mknod in a temp
 * dir): 20 parallel creates racing for 4 GPUs → exactly 4 win, each container
 * gets its own GPU's node plus the shared ones and nothing else; `gpus` shows
 * used/free; rm releases; with release_on_stop a stopped container's GPU can
 * be taken by someone else, and its start is then refused until it is free.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, dockerInspect, run } from '../helpers/env.js';

const dev = mkdtempSync(join(tmpdir(), 'dcm-fake-gpus-'));
const node = (n: string) => join(dev, n);
const inventory = [0, 1, 2, 3].map((i) => `    - { id: "${i}", devices: [${node(`nvidia${i}`)}] }`).join('\n');
/** The four GPUs (and the shared node) of env and env3, at most one per create. */
const FOUR_GPUS = `gpus:
  inventory:
${inventory}
  shared_devices: [${node('nvidiactl')}]
defaults:
  limits: { memory: 128m, cpus: 0.25, max_containers: 10 }
  gpus: { max: 1 }
`;

const env = new TestEnv({
  tag: 'polgpu',
  sshPorts: '33100-33139',
  // 20 doors start at once, each probing the device nodes: on a busy machine the
  // probe must not be what decides a create (the race for reservations is).
  extraYaml: `
mount_probe_timeout: 30
${FOUR_GPUS}`,
});

// A second installation whose one GPU is given back when its container stops.
const env2 = new TestEnv({
  tag: 'polgpu2',
  sshPorts: '33140-33149',
  extraYaml: `
gpus:
  inventory:
    - { id: "g0", devices: [${node('nvidia0')}] }
  release_on_stop: true
defaults:
  limits: { memory: 128m, cpus: 0.25 }
  gpus: { max: 1 }
`,
});

// A third installation on the same four GPUs, for the test that needs them all
// held without counting on the race test before it.
const env3 = new TestEnv({
  tag: 'polgpu3',
  sshPorts: '33200-33209',
  extraYaml: FOUR_GPUS,
});

const users = ['ua', 'ub', 'uc', 'ud'];

before(async () => {
  for (const n of ['nvidia0', 'nvidia1', 'nvidia2', 'nvidia3', 'nvidiactl']) {
    // Char devices 1:3 (like /dev/null): harmless stand-ins for GPU nodes.
    const r = await run('mknod', ['-m', '0666', node(n), 'c', '1', '3']);
    assert.equal(r.code, 0, r.stderr);
  }
  await env.registerBase();
  await env2.registerBase();
  await env3.registerBase();
  for (const u of users) await env.addUser(u);
  await env2.addUser('ua');
  await env2.addUser('ub');
  await env3.addUser('ua');
  await env3.addUser('ub');
});
after(async () => {
  await env.cleanup();
  await env2.cleanup();
  await env3.cleanup();
  rmSync(dev, { recursive: true, force: true });
});

test('20 parallel creates racing for 4 GPUs: exactly 4 succeed, each with its own GPU', { timeout: 180_000 }, async () => {
  const t0 = Date.now();
  const attempts = Array.from({ length: 20 }, (_, i) => users[i % users.length]!);
  const results = await Promise.all(attempts.map((u) => env.dcm(u, 'create', '--gpus', '1', '--json').then((r) => ({ u, r }))));
  const wins = results.filter((x) => x.r.code === 0);
  const losses = results.filter((x) => x.r.code !== 0);
  assert.equal(
    wins.length,
    4,
    results
      .map((x) => x.r.stderr.trim())
      .filter(Boolean)
      .join('\n'),
  );
  for (const l of losses) {
    assert.equal(l.r.code, 5, l.r.stderr);
    assert.match(l.r.stderr, /free — policy: gpus \(exclusive reservation\)/);
  }
  assert.ok(Date.now() - t0 < 120_000);

  const held: string[] = [];
  for (const w of wins) {
    const c = JSON.parse(w.r.stdout);
    const i = await dockerInspect(env.dockerName(c.id));
    const devices = (i.HostConfig.Devices as { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[]).map(
      (d) => `${d.PathOnHost}>${d.PathInContainer}:${d.CgroupPermissions}`,
    );
    assert.equal(devices.length, 2, devices.join(', '));
    assert.equal(devices[1], `${node('nvidiactl')}>/dev/nvidiactl:rw`);
    const m = new RegExp(`^${dev}/nvidia(\\d)>/dev/nvidia\\1:rw$`).exec(devices[0]!);
    assert.ok(m, devices[0]);
    held.push(m[1]!);
    assert.equal(i.HostConfig.Privileged, false);
    assert.deepEqual(i.HostConfig.CapDrop, ['ALL']);
  }
  assert.deepEqual(held.sort(), ['0', '1', '2', '3'], 'every GPU exactly once');

  const g = await env.dcmJson('ua', 'gpus');
  assert.equal(g.free, 0);
  assert.equal(g.total, 4);
  assert.equal(g.gpus.filter((x: { byYou: boolean }) => x.byYou).length, wins.filter((w) => w.u === 'ua').length);
});

test('rm releases a GPU; --gpus picks by id; a GPU in use is refused', { timeout: 120_000 }, async () => {
  // All four GPUs held, one container each.
  const held = await Promise.all(['0', '1', '2', '3'].map((g) => env3.dcmJson('ua', 'create', '--gpus', `device=${g}`)));
  assert.equal((await env3.dcmJson('ua', 'gpus')).free, 0);
  const freed = '2';
  const taken = '1';
  await env3.dcmJson('ua', 'rm', '-f', String(held[2].id));
  assert.equal((await env3.dcmJson('ua', 'gpus')).free, 1);
  assert.deepEqual(
    (await env3.dcmJson('ub', 'show', '--gpus')).gpus.filter((g: { state: string }) => g.state === 'free').map((g: { id: string }) => g.id),
    [freed],
  );

  const busy = await env3.dcm('ub', 'create', '--gpus', `device=${taken}`);
  assert.equal(busy.code, 5);
  assert.equal(busy.stderr, `dcm: GPU ${taken} is in use (free: ${freed}) — policy: gpus (exclusive reservation)\n`);
  const two = await env3.dcm('ub', 'create', '--gpus', '2');
  assert.equal(two.code, 5);
  assert.equal(two.stderr, 'dcm: 2 GPUs asked for, at most 1 allowed — policy: gpus.max 1 (defaults)\n');

  const c = await env3.dcmJson('ub', 'create', '--gpus', `device=${freed}`);
  const j = await dockerInspect(env3.dockerName(c.id));
  assert.equal(j.HostConfig.Devices[0].PathOnHost, node(`nvidia${freed}`));
  assert.equal((await env3.dcmJson('ub', 'gpus')).free, 0);
});

test('release_on_stop: a stopped container gives its GPU back and starts again only when it is free', { timeout: 120_000 }, async () => {
  const a = await env2.dcmJson('ua', 'create', '--gpus', '1');
  assert.equal((await env2.dcmJson('ua', 'gpus')).free, 0);
  await env2.dcmJson('ua', 'stop', String(a.id));
  assert.equal((await env2.dcmJson('ua', 'gpus')).free, 1);
  const b = await env2.dcmJson('ub', 'create', '--gpus', '1');
  const start = await env2.dcm('ua', 'start', String(a.id));
  assert.equal(start.code, 5, start.stderr);
  assert.equal(
    start.stderr,
    `dcm: GPU g0 of container ${a.id} is now used by another container; start it when the GPU is free (see "gpus")\n`,
  );
  await env2.dcmJson('ub', 'rm', '-f', String(b.id));
  const again = await env2.dcm('ua', 'start', String(a.id));
  assert.equal(again.code, 0, again.stderr);
  const g = await env2.dcmJson('ua', 'gpus');
  assert.equal(g.free, 0);
  assert.deepEqual(g.gpus[0], { id: 'g0', state: 'used', container: a.id, byYou: true, allowed: true });
});
