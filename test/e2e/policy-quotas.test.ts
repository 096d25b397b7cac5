/**
 * Per-user quotas hold under concurrent creates: every check runs inside the
 * BEGIN IMMEDIATE transaction that reserves, so 10 parallel creates against
 * max_containers 3 (and a total-memory cap) yield exactly the limit.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, run } from '../helpers/env.js';

const env = new TestEnv({
  tag: 'polquota',
  sshPorts: '33200-33229',
  extraYaml: `
defaults:
  limits: { memory: 128m, cpus: 0.25 }
users:
  qa: { limits: { max_containers: 3 } }
  qb: { limits: { total_memory: 300m, total_cpus: 10 } }
`,
});

before(async () => {
  await env.registerBase();
  await env.addUser('qa');
  await env.addUser('qb');
});
after(() => env.cleanup());

async function race(user: string, n: number) {
  const rs = await Promise.all(Array.from({ length: n }, () => env.dcm(user, 'create', '--json')));
  return { ok: rs.filter((r) => r.code === 0), refused: rs.filter((r) => r.code !== 0) };
}

test('10 parallel creates against max_containers 3: exactly 3', { timeout: 120_000 }, async () => {
  const { ok, refused } = await race('qa', 10);
  assert.equal(ok.length, 3, refused.map((r) => r.stderr).join(''));
  for (const r of refused) {
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /you have 3 of 3 containers allowed; remove one first — policy: limits\.max_containers 3 \(user qa\)/);
  }
  assert.equal((await env.dcmJson('qa', 'show')).length, 3);
  const ps = await run('docker', ['ps', '-aq', '--filter', `label=dcm.instance=${env.instance}`, '--filter', 'label=dcm.owner=qa']);
  assert.equal(ps.stdout.split('\n').filter(Boolean).length, 3);
});

test('8 parallel creates against total_memory 300m at 128m each: exactly 2', { timeout: 120_000 }, async () => {
  const { ok, refused } = await race('qb', 8);
  assert.equal(ok.length, 2, refused.map((r) => r.stderr).join(''));
  for (const r of refused)
    assert.match(
      r.stderr,
      /your containers have 256m of 300m memory allowed; this one needs 128m — policy: limits\.total_memory 300m \(user qb\)/,
    );
  const who = await env.dcmJson('qb', 'whoami');
  assert.equal(who.usage.memoryBytes, 256 * 1024 ** 2);
});
