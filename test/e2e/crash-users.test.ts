/**
 * Crash safety of users and their networks on the real engine (the rest of
 * the crash kills: test/e2e/crash-kills.test.ts). `dcm-useradd` is SIGKILLed
 * after its row, after its directories and after its keys; the first create
 * of a user after its network row and after the engine made the network;
 * `dcm-userdel` after it marked a container and after it deleted the user row.
 * After each kill, what it left is counted, then reconcile runs and nothing
 * may be left: no half-made user, no network without a row or a row without
 * its user, no claim of a dead process, no container or port held by nothing.
 * Also: a running dcm-server's periodic reconcile leaves a living dcm-userdel's
 * rows alone (even of a container made long ago) and finishes a dead one's;
 * and reconcile asks the engine about a container made before restart
 * policies once, not at every run (engine calls counted).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BASE_IMAGE, BIN, TestEnv, run } from '../helpers/env.js';
import { tp } from '../helpers/ports.js';
import { startServer, sleep } from '../helpers/ssh.js';
import { killAt, pauseAt } from '../helpers/kill-at.js';
import { openApp } from '../../src/main.js';
import { reconcile } from '../../src/manager/reconcile.js';
import { recordEngineCalls } from '../helpers/engine-calls.js';

const env = new TestEnv({ tag: 'crashusr', sshPorts: '33840-33846', extraYaml: 'server:\n  reconcile_interval: 1\n' });
const SERVER_PORT = tp(33849);

before(async () => {
  await env.registerBase();
});

after(async () => {
  await env.cleanup();
  console.log(`crash kills (users, networks): ${kills} in total\n${figures.map((f) => `  ${f}`).join('\n')}`);
});

const figures: string[] = [];
let kills = 0;

function withDb<T>(f: (db: Database.Database) => T): T {
  const db = new Database(join(env.stateDir, 'dcm.db'), { readonly: true });
  try {
    return f(db);
  } finally {
    db.close();
  }
}

/** A fresh ed25519 key pair for a user added by a test (not yet in dcm). */
async function keyFor(name: string): Promise<string> {
  const keyFile = join(env.stateDir, `key-${name}`);
  const g = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', keyFile]);
  assert.equal(g.code, 0, g.stderr);
  return `${keyFile}.pub`;
}

const keyFiles = (u: string) => ['root', 'home'].map((d) => join(env.stateDir, 'storage', u, d, '.ssh', 'authorized_keys'));

/**
 * Half-made users among `names`: a row still marked or blocked, or a
 * complete-looking row whose storage lacks a key file or the user's key;
 * `absent` names must have no row at all.
 */
function halfUsers(names: string[], absent: string[] = []): number {
  return withDb((db) => {
    let n = 0;
    for (const u of names) {
      const row = db.prepare('SELECT blocked, addition, deletion FROM users WHERE name = ?').get(u) as
        | { blocked: number; addition: string | null; deletion: string | null }
        | undefined;
      if (absent.includes(u)) {
        if (row) n++;
        continue;
      }
      const key = (db.prepare('SELECT key_b64 FROM user_keys WHERE user = ?').get(u) as { key_b64: string } | undefined)?.key_b64;
      const filesHold = key !== undefined && keyFiles(u).every((f) => existsSync(f) && readFileSync(f, 'utf8').includes(key));
      if (!row || row.blocked || row.addition !== null || row.deletion !== null || !filesHold) n++;
    }
    return n;
  });
}

/** What the users' networks left: counted from the database and the engine. */
interface NetLeftovers {
  /** Engine networks of this installation that no row records by id. */
  networksWithoutRow: number;
  /** Rows whose user is gone, or left 'removing'. */
  rowsWithoutUser: number;
  /** Rows whose engine id names no network. */
  rowsWithoutNetwork: number;
  /** Rows still claimed, with no network recorded (the claim of a process that died). */
  claimsLeft: number;
  /** Users with more than one network in the engine. */
  usersWithTwo: number;
}

async function netLeftovers(): Promise<NetLeftovers> {
  const inst = env.installationId();
  const ls = await run('docker', ['network', 'ls', '-q', '--no-trunc', '--filter', `label=dcm.installation=${inst}`]);
  assert.equal(ls.code, 0, ls.stderr);
  const ids = ls.stdout.split('\n').filter(Boolean);
  const nets = ids.length
    ? (await run('docker', ['network', 'inspect', '--format', '{{.Id}} {{index .Labels "dcm.owner"}}', ...ids])).stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ') as [string, string])
    : [];
  return withDb((db) => {
    const rows = db.prepare('SELECT owner, docker_id, state, claim FROM user_networks').all() as {
      owner: string;
      docker_id: string | null;
      state: string;
      claim: string | null;
    }[];
    const users = new Set((db.prepare('SELECT name FROM users').all() as { name: string }[]).map((r) => r.name));
    const recorded = new Set(rows.map((r) => r.docker_id));
    const live = new Set(nets.map(([id]) => id));
    const perOwner = new Map<string, number>();
    for (const [, owner] of nets) perOwner.set(owner, (perOwner.get(owner) ?? 0) + 1);
    return {
      networksWithoutRow: nets.filter(([id]) => !recorded.has(id)).length,
      rowsWithoutUser: rows.filter((r) => r.state !== 'active' || !users.has(r.owner)).length,
      rowsWithoutNetwork: rows.filter((r) => r.docker_id !== null && !live.has(r.docker_id)).length,
      claimsLeft: rows.filter((r) => r.docker_id === null && r.claim !== null).length,
      usersWithTwo: [...perOwner.values()].filter((n) => n > 1).length,
    };
  });
}

/** Containers of this installation without a row, rows without a container, ports of such rows. */
async function containerLeftovers(): Promise<number> {
  const ps = await run('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=dcm.installation=${env.installationId()}`]);
  const live = new Set(ps.stdout.split('\n').filter(Boolean));
  return withDb((db) => {
    const rows = db.prepare('SELECT id, docker_id, state FROM containers').all() as {
      id: number;
      docker_id: string | null;
      state: string;
    }[];
    const claimed = new Set(rows.map((r) => r.docker_id));
    const bad = rows.filter((r) => r.state !== 'created' || !r.docker_id || !live.has(r.docker_id));
    const ports = bad.reduce(
      (n, r) => n + (db.prepare('SELECT COUNT(*) AS n FROM port_allocations WHERE container_id = ?').get(r.id) as { n: number }).n,
      0,
    );
    return [...live].filter((id) => !claimed.has(id)).length + bad.length + ports;
  });
}

const sum = (o: object) => Object.values(o).reduce((a: number, b) => a + (b as number), 0);
const nonZero = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0));

async function reconciled(): Promise<{ stdout: string; ms: number }> {
  const t = Date.now();
  const r = await env.tool('admin', 'reconcile');
  assert.equal(r.code, 0, r.stderr);
  return { stdout: r.stdout, ms: Date.now() - t };
}

const USERADD_STEPS = ['useradd:after-row', 'useradd:after-dirs', 'useradd:after-keys'];
const PER_STEP = 2;

test(`SIGKILL dcm-useradd at ${USERADD_STEPS.length} steps (${PER_STEP} each): the user is shut out until reconcile finishes it, then complete`, async () => {
  for (const [s, step] of USERADD_STEPS.entries()) {
    const names = Array.from({ length: PER_STEP }, (_, k) => `add${s}x${k}`);
    const keys = await Promise.all(names.map(keyFor));
    const killedAt = await Promise.all(names.map((n, k) => killAt(env, step, BIN.useradd, [n, '--key', keys[k]!])));
    kills += names.length;
    const left = halfUsers(names);
    assert.equal(left, names.length, `${step}: every killed dcm-useradd leaves its user marked`);
    const counted = Date.now();
    if (s === 0) {
      // Meanwhile: no door lets the user in, dcm-useradd says what to do, dcm-admin users shows it.
      const shut = await env.dcm(names[0]!, 'show');
      assert.deepEqual(
        [shut.code, shut.stderr.trim()],
        [4, `dcm: the account ${names[0]} is still being set up by the administrator; try again shortly`],
      );
      const again = await env.tool('useradd', names[0]!, '--key', keys[0]!);
      assert.deepEqual(
        [again.code, again.stderr.trim()],
        [1, `dcm-useradd: user ${names[0]} is still being added (or its dcm-useradd died half-way: dcm-admin reconcile finishes it)`],
      );
      const ls = await env.tool('admin', 'users', 'ls');
      assert.match(ls.stdout, new RegExp(`${names[0]} \\(incomplete: dcm-useradd did not finish; dcm-admin reconcile finishes it\\)`));
    }
    const r = await reconciled();
    assert.match(r.stdout, new RegExp(`repaired ${names.length} users whose dcm-useradd died \\(finished\\): ${names.join(', ')}`));
    const after = halfUsers(names);
    assert.equal(after, 0, `${step}: ${r.stdout}`);
    figures.push(
      `${step.padEnd(28)} kills ${names.length}  half-made users ${left}  after repair ${after}  kill→repaired ${counted - Math.max(...killedAt) + r.ms} ms (reconcile ${r.ms} ms)`,
    );
    const shown = await env.dcm(names[0]!, 'show');
    assert.equal(shown.code, 0, shown.stderr);
  }
});

test('a dcm-useradd killed after its row, whose storage then refuses (a link planted): reconcile removes the user, who can be added again', async () => {
  const name = 'addundo';
  const key = await keyFor(name);
  await killAt(env, 'useradd:after-row', BIN.useradd, [name, '--key', key]);
  kills++;
  const elsewhere = join(env.stateDir, 'elsewhere');
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, join(env.stateDir, 'storage', name));
  const r = await reconciled();
  assert.match(
    r.stdout,
    new RegExp(`repaired 1 users whose dcm-useradd died and whose storage refused \\(removed: add them again\\): ${name}: `),
  );
  assert.equal(halfUsers([name], [name]), 0);
  assert.equal(existsSync(join(elsewhere, 'root')), false, 'nothing was made through the link');
  rmSync(join(env.stateDir, 'storage', name));
  const added = await env.tool('useradd', name, '--key', key);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(halfUsers([name]), 0);
  figures.push(`useradd:after-row + planted link kills 1  undone by reconcile, added again: ok`);
});

const NETWORK_STEPS = ['network:after-row', 'network:after-engine-create'];

test(`SIGKILL a user's first create while it makes their network (${NETWORK_STEPS.length} steps, ${PER_STEP} each): no network without its row; the next create takes a dead claim over at once`, async () => {
  for (const [s, step] of NETWORK_STEPS.entries()) {
    const names = Array.from({ length: PER_STEP }, (_, k) => `net${s}x${k}`);
    await Promise.all(names.map((n) => env.addUser(n)));
    const killedAt = await Promise.all(names.map((n) => killAt(env, step, BIN.dcm, ['--user', n, 'create'])));
    kills += names.length;
    const left = await netLeftovers();
    const leftContainers = await containerLeftovers();
    assert.equal(left.claimsLeft, PER_STEP, JSON.stringify(left));
    let tookOver = '';
    if (step === 'network:after-row') {
      // Before any reconcile, the first user's next create takes the dead create's claim over at once, without
      // waiting out its lease: it gets to the same step (and is killed there too).
      const until = withDb(
        (db) => (db.prepare('SELECT claim_until FROM user_networks WHERE owner = ?').get(names[0]) as { claim_until: number }).claim_until,
      );
      const t = Date.now();
      const next = pauseAt(env, step, BIN.dcm, ['--user', names[0]!, 'create']);
      await next.paused;
      const reached = Date.now();
      await next.kill();
      kills++;
      assert.ok(reached < until, `the next create reached its claim ${reached - until} ms after the dead claim's lease ran out`);
      tookOver = `  + 1 kill: the next create took the dead claim over in ${reached - t} ms (lease had ${until - t} ms left)`;
    }
    const r = await reconciled();
    const repairedAt = Date.now();
    const after = await netLeftovers();
    assert.deepEqual(nonZero(after), {}, `${step}: ${r.stdout}`);
    assert.equal(await containerLeftovers(), 0);
    if (step === 'network:after-engine-create') {
      assert.equal(left.networksWithoutRow, PER_STEP, JSON.stringify(left));
      assert.match(r.stdout, new RegExp(`repaired ${PER_STEP} users' networks whose maker died before recording them`));
    }
    figures.push(
      `${step.padEnd(28)} kills ${names.length}  left ${sum(left) + leftContainers} ${JSON.stringify(nonZero(left))}  after repair ${sum(after)}  kill→repaired ${repairedAt - Math.max(...killedAt)} ms${tookOver}`,
    );
  }
});

/** Rows of dcm's audit log with this action. */
const audits = (action: string) =>
  withDb((db) => (db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE action = ?').get(action) as { n: number }).n);

test("dcm-server's reconcile leaves a living dcm-userdel's rows alone (a container made long ago), and finishes the userdel once it is killed", async () => {
  const name = 'busy';
  await env.addUser(name);
  // A container in the engine with its row, cheaply: a create killed once it recorded the container's id.
  await killAt(env, 'create:after-record-id', BIN.dcm, ['--user', name, 'create']);
  kills++;
  const { id, docker_id: dockerId } = withDb(
    (db) => db.prepare('SELECT id, docker_id FROM containers WHERE owner = ?').get(name) as { id: number; docker_id: string },
  );
  // Made an hour ago: older than the grace, which must run from when the removal began.
  const rw = new Database(join(env.stateDir, 'dcm.db'));
  rw.prepare("UPDATE containers SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 hour') WHERE id = ?").run(id);
  rw.close();
  const del = pauseAt(env, 'userdel:after-mark', BIN.userdel, [name]);
  const pid = await del.paused;
  // The server's start-up reconcile, then its periodic ones (every second here).
  const server = await startServer(env, SERVER_PORT);
  try {
    const seen = audits('reconcile');
    const end = Date.now() + 20_000;
    while (audits('reconcile') < seen + 3 && Date.now() < end) await sleep(100);
    assert.ok(audits('reconcile') >= seen + 3, 'the server reconciled three times meanwhile');
    const row = withDb(
      (db) =>
        db.prepare('SELECT state, work_owner FROM containers WHERE id = ?').get(id) as { state: string; work_owner: string } | undefined,
    );
    assert.equal(row?.state, 'removing', 'the row is left to the userdel');
    assert.match(row.work_owner, new RegExp(`^${pid}:\\d+@`));
    assert.equal((await run('docker', ['inspect', '--format', '{{.Id}}', dockerId])).code, 0, 'its container too');
    assert.match(server.log(), /reconcile: nothing to repair/);
    assert.doesNotMatch(server.log(), /reconcile \(periodic\): repaired/);

    const { at } = await del.kill();
    kills++;
    await server.waitLog(/reconcile \(periodic\): repaired .*usersDeleted/, 15_000);
    const took = Date.now() - at;
    assert.equal(halfUsers([name], [name]), 0);
    assert.equal(await containerLeftovers(), 0);
    assert.deepEqual(nonZero(await netLeftovers()), {});
    figures.push(
      `periodic, userdel:after-mark   live userdel left alone by 3+ reconciles; kills 2 (a create, then the userdel)  kill→repaired ${took} ms`,
    );
  } finally {
    await server.stop();
  }
});

test('dcm-userdel killed after it deleted the user row: reconcile removes the network left behind', async () => {
  const name = 'lastnet';
  await env.addUser(name);
  // The user's network, made by a create killed right after the engine made it; the userdel killed after the user row.
  await killAt(env, 'network:after-engine-create', BIN.dcm, ['--user', name, 'create']);
  const killedAt = await killAt(env, 'userdel:after-user-row', BIN.userdel, [name]);
  kills += 2;
  const left = await netLeftovers();
  assert.equal(left.rowsWithoutUser, 1, JSON.stringify(left));
  const r = await reconciled();
  assert.match(r.stdout, /^repaired 1 users' networks no user needs: \S+-net-lastnet-[0-9a-f]+$/m);
  const after = await netLeftovers();
  assert.deepEqual(nonZero(after), {});
  assert.equal(halfUsers([name], [name]), 0);
  assert.equal(await containerLeftovers(), 0);
  figures.push(
    `userdel:after-user-row        kills 2 (its create, then it)  left ${sum(left)} ${JSON.stringify(nonZero(left))}  after repair ${sum(after)}  kill→repaired ${Date.now() - killedAt} ms`,
  );
});

test('reconcile asks the engine about a container made before restart policies once, not at every run (engine calls counted)', async () => {
  const name = 'legacy';
  await env.addUser(name);
  const inst = env.installationId();
  // Two containers as an earlier dcm made them: dcm's labels but no dcm.restart, policy "no"; their rows beside them.
  const rw = new Database(join(env.stateDir, 'dcm.db'));
  const made: { id: number }[] = [];
  try {
    const used = new Set((rw.prepare('SELECT id FROM containers').all() as { id: number }[]).map((r) => r.id));
    const imageId = (rw.prepare('SELECT docker_id FROM images WHERE ref = ?').get(BASE_IMAGE) as { docker_id: string }).docker_id;
    for (let port = tp(33846); made.length < 2; port--) {
      if (used.has(port)) continue;
      const labels = {
        'dcm.managed': '1',
        'dcm.installation': inst,
        'dcm.instance': env.instance,
        'dcm.owner': name,
        'dcm.id': String(port),
      };
      const c = await run('docker', [
        'create',
        ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
        BASE_IMAGE,
        'true',
      ]);
      assert.equal(c.code, 0, c.stderr);
      rw.prepare(
        `INSERT INTO containers (id, owner, docker_id, image_ref, image_id, ip, instance, state)
         VALUES (?, ?, ?, ?, ?, '127.0.0.1', 'legacy', 'created')`,
      ).run(port, name, c.stdout.trim(), BASE_IMAGE, imageId);
      made.push({ id: port });
    }
  } finally {
    rw.close();
  }
  const app = await openApp({ stateDir: env.stateDir, configFile: env.configFile });
  try {
    const calls = recordEngineCalls(app.engine);
    const runOnce = async () => {
      calls.length = 0;
      const r = await reconcile(app);
      return { given: r.restartPolicySet.length, inspects: calls.filter((c) => c.method === 'inspect').length, all: calls.length };
    };
    const first = await runOnce();
    assert.deepEqual([first.given, first.inspects], [2, 2]);
    for (const { id } of made) {
      const d = withDb((db) => (db.prepare('SELECT docker_id FROM containers WHERE id = ?').get(id) as { docker_id: string }).docker_id);
      const policy = await run('docker', ['inspect', '--format', '{{.HostConfig.RestartPolicy.Name}}', d]);
      assert.equal(policy.stdout.trim(), 'unless-stopped');
    }
    const later = [await runOnce(), await runOnce(), await runOnce()];
    assert.deepEqual(
      later.map((l) => [l.given, l.inspects]),
      [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
    );
    // What every run cost before the mark: the same runs with it cleared each time.
    const rw2 = new Database(join(env.stateDir, 'dcm.db'));
    const unmarked: { inspects: number; all: number }[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        rw2.prepare('UPDATE containers SET restart_policy_known = 0').run();
        unmarked.push(await runOnce());
      }
    } finally {
      rw2.close();
    }
    assert.deepEqual(
      unmarked.map((u) => u.inspects),
      [2, 2, 2],
    );
    figures.push(
      `restart policy, 2 unlabelled containers: engine calls per periodic run ${unmarked.map((u) => u.all).join('/')} (inspects ${unmarked[0]!.inspects}) without the mark → ${later.map((l) => l.all).join('/')} (inspects 0) with it; first run ${first.all}`,
    );
  } finally {
    app.close();
  }
});
