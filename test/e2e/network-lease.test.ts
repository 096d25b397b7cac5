/**
 * A user's network is made once, also when the engine takes longer to make it
 * than the claim on it lasts (20 s): the process making it renews its claim
 * while the engine works, so the user's other creates wait for it instead of
 * taking the claim over and asking the engine for the same network a second
 * time. (Under a burst of 200 creates the second request raced the first in
 * the engine, which refused it "subnet in use", and the row moved to a new
 * block while the first network was still being made: 75 of 200 creates were
 * refused, users' blocks were handed out over networks still being made.)
 *
 * The engine is the real one behind test/helpers/slow-engine.ts, which holds
 * every "create network" request for 24 s. The creates are `dcm` processes of
 * their own, as from several logins at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { TestEnv, run, type TestUser } from '../helpers/env.js';
import { slowEngine, type SlowEngine } from '../helpers/slow-engine.js';
import { burstProblems, useOwnSubnets } from '../helpers/create-burst.js';
import Database from 'better-sqlite3';

const HOLD_MS = 24_000;
const env = new TestEnv({ tag: 'netlease', sshPorts: '33833-33839' });
const users: Record<string, TestUser> = {};
let proxy: SlowEngine;

before(async () => {
  useOwnSubnets(env, 140);
  await env.registerBase();
  for (const u of ['alice', 'bob']) users[u] = await env.addUser(u);
  proxy = await slowEngine(join(env.stateDir, 'engine.sock'), HOLD_MS, undefined, /^POST \S*\/networks\/create[?\s]/);
  writeFileSync(env.configFile, `${readFileSync(env.configFile, 'utf8')}\nengine:\n  socket: ${proxy.socket}\n`);
});
after(async () => {
  await proxy?.close();
  await env.cleanup();
});

/** This installation's networks in the engine: name → subnet. */
async function engineNetworks(): Promise<Record<string, string>> {
  const r = await run('docker', ['network', 'ls', '--format', '{{.Name}}', '--filter', `label=dcm.installation=${env.installationId()}`]);
  assert.equal(r.code, 0, r.stderr);
  const out: Record<string, string> = {};
  for (const name of r.stdout.split('\n').filter(Boolean)) {
    const i = await run('docker', ['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', name]);
    out[name] = i.stdout.trim();
  }
  return out;
}

test('first creates of two users while the engine takes 24 s per network: one network each, no create refused', {
  timeout: 150_000,
}, async () => {
  const t0 = Date.now();
  const asks = ['alice', 'alice', 'alice', 'bob', 'bob'];
  const answers = await Promise.all(asks.map((u) => env.dcm(u, 'create', '--json')));
  const took = Date.now() - t0;
  for (const [i, a] of answers.entries()) assert.equal(a.code, 0, `${asks[i]}: ${a.stderr}`);
  assert.ok(took > HOLD_MS, `the networks were held back (${took} ms)`);

  // One "create network" per user reached the engine: nobody took a claim
  // over while the engine was still making the network.
  assert.equal(proxy.held(), 2, 'network creates sent to the engine');
  const db = new Database(join(env.stateDir, 'dcm.db'), { readonly: true });
  const rows = db.prepare('SELECT owner, name, subnet, docker_id, claim FROM user_networks ORDER BY owner').all() as {
    owner: string;
    name: string;
    subnet: string;
    docker_id: string | null;
    claim: string | null;
  }[];
  const attached = db.prepare('SELECT owner, COUNT(*) AS n FROM containers GROUP BY owner ORDER BY owner').all();
  db.close();
  assert.deepEqual(
    rows.map((r) => [r.owner, r.docker_id !== null, r.claim]),
    [
      ['alice', true, null],
      ['bob', true, null],
    ],
  );
  assert.notEqual(rows[0]!.subnet, rows[1]!.subnet);
  assert.deepEqual(attached, [
    { owner: 'alice', n: 3 },
    { owner: 'bob', n: 2 },
  ]);
  // The engine holds exactly the networks the database names, no leftover.
  assert.deepEqual(await engineNetworks(), Object.fromEntries(rows.map((r) => [r.name, r.subnet])));
  for (const [name, c] of [
    ['alice', 3],
    ['bob', 2],
  ] as const) {
    const r = await run('docker', [
      'ps',
      '-q',
      '--filter',
      `label=dcm.installation=${env.installationId()}`,
      '--filter',
      `network=${rows.find((x) => x.owner === name)!.name}`,
    ]);
    assert.equal(r.stdout.split('\n').filter(Boolean).length, c, `${name}'s containers on ${name}'s network`);
  }
  assert.deepEqual(await burstProblems(env), []);
});
