/**
 * Crash safety on the real engine: the process doing the work — the one-shot
 * `dcm` (no server), `dcm-userdel`, and dcm-server serving an SSH exec — is
 * killed with SIGKILL at each step of create, rm -f, start, commit and
 * dcm-userdel (the step is armed with DCM_TEST_PAUSE_AT, see
 * src/manager/pause-point.ts). After each kill, what it left is counted, then
 * `dcm-admin reconcile` (or the restarted dcm-server's own reconcile) runs and
 * nothing may be left: no container without a row, no row stuck half-way or
 * without its container, no port held by nothing, no image without its row,
 * no claim of a dead process, no half-deleted user. Per-step counts and the
 * time from the kill to the repair are printed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BIN, TestEnv, run, type TestUser } from '../helpers/env.js';
import { tp } from '../helpers/ports.js';
import { ssh, startServer } from '../helpers/ssh.js';
import { killAt as killAtIn } from '../helpers/kill-at.js';

const env = new TestEnv({
  tag: 'crash',
  sshPorts: '32500-32579',
  extraYaml: 'users:\n  rmnow:\n    limits:\n      max_containers: 2\nserver:\n  reconcile_interval: 1\n',
});

after(async () => {
  await env.cleanup();
});

/** What one kill left, counted from the database and the engine. */
interface Leftovers {
  containersWithoutRow: number;
  rowsHalfWay: number;
  portsHeldByNothing: number;
  gpusHeldByNothing: number;
  imagesWithoutRow: number;
  imageRowsBroken: number;
  claims: number;
  halfUsers: number;
}

const zero: Leftovers = {
  containersWithoutRow: 0,
  rowsHalfWay: 0,
  portsHeldByNothing: 0,
  gpusHeldByNothing: 0,
  imagesWithoutRow: 0,
  imageRowsBroken: 0,
  claims: 0,
  halfUsers: 0,
};

const total = (l: Leftovers) => Object.values(l).reduce((a, b) => a + b, 0);

async function dockerLines(args: string[]): Promise<string[]> {
  const r = await run('docker', args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

/** Counts leftovers of `users`; `deleted` are users whose deletion began (they must be gone entirely after repair). */
async function leftovers(users: string[], deleted: string[] = []): Promise<Leftovers> {
  const inst = env.installationId();
  const containers = (
    await dockerLines([
      'ps',
      '-a',
      '--no-trunc',
      '--filter',
      `label=dcm.installation=${inst}`,
      '--format',
      '{{.ID}} {{.Label "dcm.owner"}}',
    ])
  ).map((l) => l.split(' ') as [string, string]);
  const imageIds = await dockerLines(['images', '-q', '--no-trunc', '--filter', `label=dcm.installation=${inst}`]);
  const images = imageIds.length
    ? (
        await dockerLines([
          'image',
          'inspect',
          '--format',
          '{{.Id}} {{index .Config.Labels "dcm.owner"}} {{range .RepoTags}}{{.}},{{end}}',
          ...new Set(imageIds),
        ])
      ).map((l) => l.split(' ') as [string, string, string?])
    : [];
  const db = new Database(join(env.stateDir, 'dcm.db'), { readonly: true });
  try {
    const l: Leftovers = { ...zero };
    const liveIds = new Set(containers.map(([id]) => id));
    const kept = new Set((db.prepare('SELECT docker_id FROM kept_images').all() as { docker_id: string }[]).map((r) => r.docker_id));
    for (const u of users) {
      const rows = db.prepare('SELECT id, docker_id, state FROM containers WHERE owner = ?').all(u) as {
        id: number;
        docker_id: string | null;
        state: string;
      }[];
      const bad = rows.filter((r) => r.state !== 'created' || !r.docker_id || !liveIds.has(r.docker_id));
      l.rowsHalfWay += bad.length;
      for (const r of bad) {
        l.portsHeldByNothing += (
          db.prepare('SELECT COUNT(*) AS n FROM port_allocations WHERE container_id = ?').get(r.id) as { n: number }
        ).n;
        l.gpusHeldByNothing += (
          db.prepare('SELECT COUNT(*) AS n FROM gpu_reservations WHERE container_id = ?').get(r.id) as { n: number }
        ).n;
      }
      const claimed = new Set(rows.map((r) => r.docker_id));
      l.containersWithoutRow += containers.filter(([id, owner]) => owner === u && !claimed.has(id)).length;
      const imageRows = db.prepare('SELECT ref, docker_id FROM images WHERE owner = ?').all(u) as { ref: string; docker_id: string }[];
      const rowIds = new Set(imageRows.map((r) => r.docker_id));
      l.imagesWithoutRow += images.filter(([id, owner]) => owner === u && !rowIds.has(id) && !kept.has(id)).length;
      for (const r of imageRows) {
        const img = images.find(([id]) => id === r.docker_id);
        if (!img || !(img[2] ?? '').split(',').includes(r.ref)) l.imageRowsBroken++;
      }
      l.claims += (db.prepare('SELECT COUNT(*) AS n FROM start_claims WHERE owner = ?').get(u) as { n: number }).n;
      l.claims += (db.prepare('SELECT COUNT(*) AS n FROM commit_claims WHERE owner = ?').get(u) as { n: number }).n;
      const user = db.prepare('SELECT blocked, deletion FROM users WHERE name = ?').get(u) as
        | { blocked: number; deletion: string | null }
        | undefined;
      if (deleted.includes(u)) {
        const storage = existsSync(join(env.stateDir, 'storage', u));
        if (user || storage || rows.length || imageRows.length) l.halfUsers++;
      } else if (!user || user.blocked || user.deletion) l.halfUsers++;
    }
    return l;
  } finally {
    db.close();
  }
}

/** Runs a door program with the step armed, waits until it pauses there, SIGKILLs it; returns when it died. */
const killAt = (step: string, bin: string, args: string[]) => killAtIn(env, step, bin, args);

/** The figures printed at the end. */
const figures: string[] = [];
let kills = 0;

async function addUsers(names: string[]): Promise<TestUser[]> {
  const out: TestUser[] = [];
  for (let i = 0; i < names.length; i += 6) out.push(...(await Promise.all(names.slice(i, i + 6).map((n) => env.addUser(n)))));
  return out;
}

async function created(user: string): Promise<number> {
  return (await env.dcmJson(user, 'create')).id as number;
}

const PER_STEP = 2;
/** dcm-userdel kills each need a user of their own, with containers and images: one per step keeps the file short. */
const USERDEL_PER_STEP = 1;
const CREATE_STEPS = ['after-reserve', 'after-engine-create', 'after-record-id', 'after-start', 'before-created'];
const USERDEL_STEPS = ['after-block', 'after-containers', 'after-images', 'after-storage'];

/**
 * What each slot (one of PER_STEP users, reused step after step: every step
 * must leave them clean) needs: a stopped container to start and then commit,
 * and two containers to remove. Each dcm-userdel kill has a user of its own,
 * with a container, and (where images are being removed) an image.
 */
interface Slot {
  user: string;
  source: number;
  doomed: number[];
}

async function prepareSlot(user: string): Promise<Slot> {
  const [source, a, b] = await Promise.all([created(user), created(user), created(user)]);
  const r = await env.dcm(user, 'stop', String(source));
  assert.equal(r.code, 0, r.stderr);
  return { user, source: source!, doomed: [a!, b!] };
}

async function prepareDoomedUser(user: string, withImage: boolean): Promise<void> {
  const id = await created(user);
  if (withImage) await env.dcmJson(user, 'commit', String(id), 'mine');
}

/** The one-shot steps in order, each with the arguments of the command to kill for a slot. */
function steps(): { step: string; args: (slot: Slot, k: number) => string[] }[] {
  let port = 0;
  return [
    ...CREATE_STEPS.map((s) => ({
      step: `create:${s}`,
      // Each publishes an extra port of its own, so that a port held by nothing would show.
      args: (sl: Slot) => ['--user', sl.user, 'create', '--port', String(tp(32580 + port++))],
    })),
    ...['after-mark', 'after-engine-remove'].map((s, i) => ({
      step: `rm:${s}`,
      args: (sl: Slot) => ['--user', sl.user, 'rm', '-f', String(sl.doomed[i])],
    })),
    ...['after-claim', 'after-engine-start'].map((s) => ({
      step: `start:${s}`,
      args: (sl: Slot) => ['--user', sl.user, 'start', String(sl.source)],
    })),
    ...['after-claim', 'after-engine-commit', 'after-record'].map((s) => ({
      step: `commit:${s}`,
      args: (sl: Slot) => ['--user', sl.user, 'commit', String(sl.source), `snap-${s}`],
    })),
    ...USERDEL_STEPS.map((s) => ({ step: `userdel:${s}`, args: (_sl: Slot, k: number) => [`del-${s}-${k}`] })),
  ];
}

before(async () => {
  await env.registerBase();
});

test(`SIGKILL at ${CREATE_STEPS.length + 7 + USERDEL_STEPS.length} steps of create, rm -f, start, commit and dcm-userdel (one-shot doors, ${PER_STEP} kills each, ${USERDEL_PER_STEP} per dcm-userdel step): reconcile leaves nothing`, async () => {
  const slotUsers = Array.from({ length: PER_STEP }, (_, k) => `slot${k}`);
  const doomed = USERDEL_STEPS.flatMap((s) => Array.from({ length: USERDEL_PER_STEP }, (_, k) => `del-${s}-${k}`));
  const t = Date.now();
  await addUsers([...slotUsers, ...doomed]);
  const slots = await Promise.all(slotUsers.map(prepareSlot));
  for (let i = 0; i < doomed.length; i += 4) {
    await Promise.all(
      doomed.slice(i, i + 4).map((u) => (/after-storage/.test(u) ? undefined : prepareDoomedUser(u, /after-(containers|images)/.test(u)))),
    );
  }
  const rows: string[] = [`(prepared ${slotUsers.length + doomed.length} users and their containers and images in ${Date.now() - t} ms)`];
  for (const s of steps()) {
    const deleting = s.step.startsWith('userdel:');
    const bin = deleting ? BIN.userdel : BIN.dcm;
    const kinds = deleting ? slots.slice(0, USERDEL_PER_STEP) : slots;
    const mine = deleting ? kinds.map((_, k) => `del-${s.step.slice(8)}-${k}`) : slotUsers;
    const killedAt = await Promise.all(kinds.map((sl, k) => killAt(s.step, bin, s.args(sl, k))));
    kills += killedAt.length;
    const deleted = deleting ? mine : [];
    const left = await leftovers(mine, deleted);
    const r = await env.tool('admin', 'reconcile');
    const repairedAfter = Date.now() - Math.max(...killedAt);
    assert.equal(r.code, 0, r.stderr);
    const after = await leftovers(mine, deleted);
    rows.push(
      `${s.step.padEnd(28)} kills ${killedAt.length}  left ${String(total(left)).padStart(2)} ${JSON.stringify(nonZero(left))}  after repair ${total(after)}  kill→repaired ${repairedAfter} ms`,
    );
    assert.deepEqual(after, zero, `${s.step}: ${JSON.stringify(after)}\nreconcile said: ${r.stdout}`);
    // The users whose work was killed go on working (or, for dcm-userdel, are gone).
    if (!deleting) assert.equal((await env.dcm(mine[0]!, 'show')).code, 0);
    if (s.step === 'create:after-engine-create') {
      // The engine made the container but dcm never recorded its id: found by its labels.
      assert.equal(left.containersWithoutRow, PER_STEP, JSON.stringify(left));
    }
    if (s.step === 'commit:after-engine-commit') assert.equal(left.imagesWithoutRow, PER_STEP, JSON.stringify(left));
  }
  figures.push(...rows);
});

function nonZero(l: Leftovers): Partial<Leftovers> {
  return Object.fromEntries(Object.entries(l).filter(([, v]) => v > 0));
}

test('a create killed after the engine made its container: rm works at once and the container limit is free again', async () => {
  await addUsers(['rmnow']);
  await created('rmnow'); // one of the two containers the limit allows
  await killAt('create:after-engine-create', BIN.dcm, ['--user', 'rmnow', 'create']);
  kills++;
  const shown = await env.dcmJson<{ id: number; status: string }[]>('rmnow', 'show');
  const crashed = shown.find((c) => c.status.includes('interrupted'));
  assert.ok(crashed, JSON.stringify(shown));
  assert.equal(crashed.status, 'creating, interrupted: the process doing it died (rm removes it)');
  // Not "still being created": the process that owned it is gone.
  const rm = await env.dcm('rmnow', 'rm', String(crashed.id));
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await leftovers(['rmnow'])).containersWithoutRow, 0);

  // Again, and this time a new create finds the crashed row in the way of the limit: it is repaired first.
  await killAt('create:after-engine-create', BIN.dcm, ['--user', 'rmnow', 'create']);
  kills++;
  const again = await env.dcm('rmnow', 'create', '--json');
  assert.equal(again.code, 0, again.stderr);
  const third = await env.dcm('rmnow', 'create');
  assert.equal(third.code, 5, third.stderr);
  assert.match(third.stderr, /you have 2 of 2 containers/);
  assert.deepEqual(await leftovers(['rmnow']), zero);
});

test('dcm-server killed while it serves an SSH exec: its restart repairs at once; its periodic reconcile repairs a dead dcm-userdel', async () => {
  const [u] = await addUsers(['srv']);
  const port = tp(32590);
  const id = await created('srv');
  await env.dcmJson('srv', 'stop', String(id));
  const cases: [string, string[]][] = [
    ['create:after-engine-create', ['create']],
    ['commit:after-engine-commit', ['commit', String(id), 'viassh']],
    ['rm:after-mark', ['rm', '-f', String(id)]],
  ];
  const rows: string[] = [];
  for (const [step, command] of cases) {
    const server = await startServer(env, port, { DCM_TEST_PAUSE_AT: step });
    const exec = ssh(u!.keyFile, port, 'srv', command);
    await server.waitLog(new RegExp(`DCM_TEST_PAUSED ${step}`), 60_000);
    const killedAt = Date.now();
    await server.stop('SIGKILL');
    kills++;
    assert.notEqual((await exec).code, 0);
    const left = await leftovers(['srv']);
    const again = await startServer(env, port);
    try {
      await again.waitLog(/reconcile: (repaired \d+ item|nothing to repair)/);
      const took = Date.now() - killedAt;
      assert.match(again.log(), /reconcile: repaired \d+ item\(s\)/);
      const after = await leftovers(['srv']);
      assert.deepEqual(after, zero, `${step}: ${JSON.stringify(after)}\n${again.log()}`);
      rows.push(
        `server ${step.padEnd(21)} kills 1  left ${String(total(left)).padStart(2)}  after repair ${total(after)}  kill→restarted+repaired ${took} ms`,
      );
    } finally {
      await again.stop();
    }
  }

  // One-shot dcm-userdel dies while the server runs: the server's periodic reconcile (every 1 s here) finishes it.
  await addUsers(['gone']);
  await created('gone');
  const server = await startServer(env, port);
  try {
    const killedAt = await killAt('userdel:after-containers', BIN.userdel, ['gone']);
    kills++;
    const left = await leftovers(['gone'], ['gone']);
    // Bounded, with room for a loaded machine (it takes about 2 s on a quiet one); on a miss, what reconcile would do now.
    await server.waitLog(/reconcile \(periodic\): repaired .*usersDeleted/, 60_000).catch(async (e: Error) => {
      const dry = await env.tool('admin', 'reconcile', '--dry-run');
      throw new Error(`${e.message}\ndcm-admin reconcile --dry-run now: ${dry.code} ${dry.stdout}${dry.stderr}`);
    });
    const took = Date.now() - killedAt;
    const after = await leftovers(['gone'], ['gone']);
    assert.deepEqual(after, zero, JSON.stringify(after));
    rows.push(
      `periodic userdel:after-containers kills 1  left ${String(total(left)).padStart(2)}  after repair ${total(after)}  kill→repaired ${took} ms`,
    );
  } finally {
    await server.stop();
  }
  figures.push(...rows);
});

after(() => {
  console.log(`crash kills: ${kills} in total\n${figures.map((f) => `  ${f}`).join('\n')}`);
});
