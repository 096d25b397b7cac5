/**
 * Quotas that parallel commands must not beat: limits.max_running at start
 * and images.max_own at commit are checked inside the IMMEDIATE transaction,
 * counting starts and commits other processes have in flight, and a refused
 * commit writes nothing to the engine.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, run } from '../helpers/env.js';

const starts = new TestEnv({ tag: 'qstart', sshPorts: '30850-30869', extraYaml: 'defaults:\n  limits: { max_running: 1 }' });
const commits = new TestEnv({ tag: 'qcommit', sshPorts: '30870-30889', extraYaml: 'defaults:\n  images: { max_own: 2 }' });

after(async () => {
  await starts.cleanup();
  await commits.cleanup();
});

/** Images in the engine carrying this installation's label. */
async function ownImages(env: TestEnv): Promise<string[]> {
  const r = await run('docker', ['images', '-q', '--no-trunc', '--filter', `label=dcm.installation=${env.installationId()}`]);
  return [...new Set(r.stdout.split('\n').filter(Boolean))].sort();
}

/** How many commits the engine made of a container between two moments (ms). */
async function commitEvents(containerDockerId: string, since: number, until: number): Promise<number> {
  const r = await run('docker', [
    'events',
    '--since',
    (since / 1000).toFixed(3),
    '--until',
    (until / 1000).toFixed(3),
    '--filter',
    'type=container',
    '--filter',
    'event=commit',
    '--filter',
    `container=${containerDockerId}`,
    '--format',
    '{{.Actor.ID}}',
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).length;
}

test('max_running 1: of two parallel starts from separate processes exactly one runs, the other is refused', async () => {
  await starts.registerBase();
  await starts.addUser('alice');
  const one = await starts.dcmJson('alice', 'create', '--name', 'one');
  await starts.dcmJson('alice', 'stop', 'one');
  const two = await starts.dcmJson('alice', 'create', '--name', 'two');
  await starts.dcmJson('alice', 'stop', 'two');

  const results = await Promise.all([starts.dcm('alice', 'start', 'one'), starts.dcm('alice', 'start', 'two')]);
  const ok = results.filter((r) => r.code === 0);
  const refused = results.filter((r) => r.code !== 0);
  assert.equal(ok.length, 1, results.map((r) => r.stderr).join(''));
  assert.equal(refused[0]!.code, 5, refused[0]!.stderr);
  assert.equal(
    refused[0]!.stderr.trim(),
    'dcm: limit reached: 1 of 1 running containers allowed; stop one first — policy: limits.max_running 1 (defaults)',
  );
  const states = (await starts.dcmJson('alice', 'show')).map((c: { id: number; state: string }) => [c.id, c.state]);
  assert.equal(states.filter(([, s]: [number, string]) => s === 'running').length, 1, JSON.stringify(states));
  assert.deepEqual(states.map(([id]: [number, string]) => id).sort(), [one.id, two.id].sort());
});

test('images.max_own: at the quota a commit is refused before the engine writes a layer; two parallel commits cannot both take the last slot', async () => {
  await commits.registerBase();
  await commits.addUser('carol');
  const c = await commits.dcmJson('carol', 'create');
  const dockerId = (await run('docker', ['inspect', '--format', '{{.Id}}', commits.dockerName(c.id)])).stdout.trim();
  assert.equal((await commits.dcm('carol', 'commit', String(c.id), 'first')).code, 0);

  // One slot left, two commits at once: one image more, one commit in the engine.
  const before = await ownImages(commits);
  const t0 = Date.now();
  const results = await Promise.all([commits.dcm('carol', 'commit', String(c.id), 'x'), commits.dcm('carol', 'commit', String(c.id), 'y')]);
  const t1 = Date.now() + 1000;
  const ok = results.filter((r) => r.code === 0);
  const refused = results.filter((r) => r.code !== 0);
  assert.equal(ok.length, 1, results.map((r) => r.stderr).join(''));
  assert.equal(refused[0]!.code, 5, refused[0]!.stderr);
  assert.equal(
    refused[0]!.stderr.trim(),
    'dcm: limit reached: you have 2 of 2 images allowed; remove one with rmi first — policy: images.max_own 2 (defaults)',
  );
  assert.equal((await ownImages(commits)).length, before.length + 1);
  assert.equal(await commitEvents(dockerId, t0, t1), 1, 'the refused commit never reached the engine');

  // At the quota: refused with the same line, nothing new in the engine.
  const full = await ownImages(commits);
  const t2 = Date.now();
  const again = await commits.dcm('carol', 'commit', String(c.id), 'z');
  const t3 = Date.now() + 1000;
  assert.equal(again.code, 5, again.stderr);
  assert.equal(
    again.stderr.trim(),
    'dcm: limit reached: you have 2 of 2 images allowed; remove one with rmi first — policy: images.max_own 2 (defaults)',
  );
  assert.deepEqual(await ownImages(commits), full);
  assert.equal(await commitEvents(dockerId, t2, t3), 0);
  assert.equal((await commits.dcmJson('carol', 'images')).filter((i: { kind: string }) => i.kind === 'own').length, 2);
});
