/**
 * Batch jobs on the real engine through the local door (`dcm --user`, no
 * dcm-server, so the command runs in the door's own process): `run --rm`
 * with a command, its output and exit code, nothing left afterwards; a
 * command the image lacks (127); stdin passed with -i; `run -d`, `show`
 * marking the job and its exit code, `wait` and `logs`; the job's hardening
 * and identity (the user, the create path's limits and labels, no port, no
 * init, restart policy "no"); lifecycle commands on several containers,
 * refused as a whole when one is not the caller's; and a `run --rm` whose
 * dcm process is killed leaves no row once its job has ended.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { BASE_IMAGE, BIN, TestEnv, dockerInspect, run, type RunResult } from '../helpers/env.js';
import { sleep } from '../helpers/ssh.js';

const env = new TestEnv({
  tag: 'runjobs',
  sshPorts: '30050-30069',
  extraYaml: 'defaults:\n  limits: { memory: 512m, pids: 200 }\n  commands: { allow: [run] }',
});

before(async () => {
  await env.registerBase();
  await env.addUser('alice');
  await env.addUser('bob');
});
after(() => env.cleanup());

/** Container rows of `owner` in the database. */
function rows(owner: string): { id: number; job: string | null; auto_remove: number }[] {
  const db = new Database(join(env.stateDir, 'dcm.db'), { readonly: true });
  try {
    return db.prepare('SELECT id, job, auto_remove FROM containers WHERE owner = ? ORDER BY id').all(owner) as never;
  } finally {
    db.close();
  }
}

/** This installation's containers in the engine. */
async function engineContainers(): Promise<string[]> {
  const r = await run('docker', ['ps', '-aq', '--filter', `label=dcm.installation=${env.installationId()}`]);
  return r.stdout.split('\n').filter(Boolean);
}

/** The local door with `input` on its stdin. */
function dcmWithInput(user: string, input: string, ...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN.dcm, '--user', user, ...args], { env: { ...process.env, ...env.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(input);
  });
}

test('run --rm: output as the job printed it, its exit code as dcm exit code, and nothing left', async () => {
  const who = await env.dcmJson<{ uid: number; gid: number }>('alice', 'whoami');
  const r = await env.dcm(
    'alice',
    'run',
    '--rm',
    BASE_IMAGE,
    '--',
    'sh',
    '-c',
    'echo out; echo err >&2; id -u; id -g; pwd; echo "$HOME"; exit 3',
  );
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, `out\n${who.uid}\n${who.gid}\n/home/alice\n/home/alice\n`);
  assert.equal(r.stderr, 'err\n');
  assert.deepEqual(rows('alice'), []);
  assert.deepEqual(await engineContainers(), []);
  const ok = await env.dcm('alice', 'run', '--rm', BASE_IMAGE, 'true');
  assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, '', '']);
});

test('run --rm of a command the image lacks: 127, one line, nothing left', async () => {
  const r = await env.dcm('alice', 'run', '--rm', BASE_IMAGE, 'no-such-program', 'x');
  assert.equal(r.code, 127);
  assert.equal(r.stderr, 'dcm: cannot run "no-such-program": no such command in the image\n');
  assert.equal(r.stdout, '');
  assert.deepEqual(rows('alice'), []);
  assert.deepEqual(await engineContainers(), []);
});

test('run -i passes stdin to the job, as bytes, until its end', async () => {
  const r = await dcmWithInput('alice', 'line one\nline two\n', 'run', '--rm', '-i', BASE_IMAGE, '--', 'sh', '-c', 'wc -l; echo done');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '2\ndone\n');
  // Without -i (and no terminal) the job's stdin is empty: input is not read.
  const none = await dcmWithInput('alice', 'ignored\n', 'run', '--rm', BASE_IMAGE, '--', 'sh', '-c', 'wc -c');
  assert.equal(none.stdout, '0\n');
});

test('the words after IMAGE reach the container as argv, never through a shell', async () => {
  const r = await env.dcm('alice', 'run', '--rm', BASE_IMAGE, '--', 'printf', '[%s]\\n', '$(id)', 'a b', ';rm -rf /', '`x`');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '[$(id)]\n[a b]\n[;rm -rf /]\n[`x`]\n');
});

/** A job's script that goes on only once the test lets it (the file `go` in the user's home storage, the job's working directory). */
const UNTIL_GO = 'while [ ! -e go ]; do sleep 0.2; done; rm -f go';
const letGo = () => writeFileSync(join(env.stateDir, 'storage', 'alice', 'home', 'go'), '');

test('run -d: the id at once; show marks the job; wait gives its exit code; logs its output', async () => {
  const script = `echo working; ${UNTIL_GO}; echo finished; exit 5`;
  const r = await env.dcm('alice', 'run', '-d', '--name', 'job1', BASE_IMAGE, '--', 'sh', '-c', script);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\d+\n$/);
  const id = Number(r.stdout);
  const spec = await dockerInspect(env.dockerName(id));
  // The create path's hardening and policy, the job's own identity and command.
  assert.deepEqual(spec.HostConfig.CapDrop, ['ALL']);
  assert.deepEqual(spec.HostConfig.SecurityOpt, ['no-new-privileges:true']);
  assert.equal(spec.HostConfig.Memory, 512 * 1024 * 1024);
  assert.equal(spec.HostConfig.PidsLimit, 200);
  assert.equal(spec.HostConfig.RestartPolicy.Name, 'no');
  assert.equal(spec.HostConfig.AutoRemove, false);
  assert.deepEqual(spec.HostConfig.PortBindings, {});
  assert.equal(spec.Config.User, `${(await env.dcmJson('alice', 'whoami')).uid}:${(await env.dcmJson('alice', 'whoami')).gid}`);
  assert.deepEqual(spec.Config.Cmd, ['sh', '-c', script]);
  assert.equal(spec.Config.Labels['dcm.owner'], 'alice');
  assert.equal(spec.Config.Labels['dcm.job'], '1');
  assert.ok(!spec.HostConfig.Binds.some((b: string) => b.includes('/usr/local/lib/dcm/init')), 'no init script in a job');
  assert.ok(spec.HostConfig.NetworkMode.startsWith(`${env.instance}-`), "the user's own network");

  const listed = await env.dcm('alice', 'show');
  assert.match(listed.stdout, new RegExp(`${id}\\s+job1\\s+\\S+\\s+running\\s+job: sh -c echo working; while`));
  letGo();
  const w = await env.dcm('alice', 'wait', 'job1');
  assert.deepEqual([w.code, w.stdout, w.stderr], [5, '5\n', '']);
  // With --json too, dcm exits with the job's code.
  const again = await env.dcm('alice', 'wait', String(id), '--json');
  assert.equal(again.code, 5, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), { container: String(id), exitCode: 5 });
  const logs = await env.dcm('alice', 'logs', 'job1');
  assert.equal(logs.stdout, 'working\nfinished\n');
  const ended = await env.dcm('alice', 'show');
  assert.match(ended.stdout, new RegExp(`${id}\\s+job1\\s+\\S+\\s+exited \\(5\\)\\s+job: `));
  const one = await env.dcm('alice', 'show', 'job1');
  assert.match(
    one.stdout,
    new RegExp(
      `^job ${id} \\(job1\\) from ${BASE_IMAGE} is exited\\n  command: sh -c echo working.* \\(as alice\\)\\n  ended at \\S+ with code 5\\n$`,
    ),
  );
  const json = await env.dcmJson('alice', 'show', 'job1');
  assert.deepEqual(json.job, { command: ['sh', '-c', script], tty: false, stdin: false, root: false, rm: false });
  assert.equal(json.end.exitCode, 5);
  // Another user cannot wait for it, or see it.
  const bob = await env.dcm('bob', 'wait', String(id));
  assert.deepEqual([bob.code, bob.stderr], [3, `dcm: no such container: ${id}\n`]);
  const rm = await env.dcm('alice', 'rm', 'job1');
  assert.equal(rm.code, 0, rm.stderr);
});

test('run -d --rm: the engine removes it when it ends, and its row goes at the next show', async () => {
  const r = await env.dcm('alice', 'run', '-d', '--rm', BASE_IMAGE, '--', 'sh', '-c', `${UNTIL_GO}; exit 2`);
  assert.equal(r.code, 0, r.stderr);
  const id = Number(r.stdout);
  const waiting = env.dcm('alice', 'wait', String(id));
  await sleep(1000);
  letGo();
  const w = await waiting;
  assert.deepEqual([w.code, w.stdout], [2, '2\n'], w.stderr);
  const late = await env.dcm('alice', 'run', '-d', '--rm', BASE_IMAGE, 'true');
  const gone = Date.now() + 30_000;
  while ((await engineContainers()).length && Date.now() < gone) await sleep(200);
  const w2 = await env.dcm('alice', 'wait', late.stdout.trim());
  assert.deepEqual(
    [w2.code, w2.stderr],
    [3, `dcm: job ${late.stdout.trim()} has ended and was removed (--rm): its exit code is not kept\n`],
  );
  const listed = await env.dcm('alice', 'show');
  assert.equal(listed.stdout, 'no containers (create one with "create", or run a job with "run")\n');
  assert.deepEqual(rows('alice'), []);
});

test('jobs count against the same quotas as create', async () => {
  const limited = new TestEnv({
    tag: 'runjobq',
    sshPorts: '30070-30074',
    extraYaml: 'defaults:\n  limits: { max_containers: 1 }\n  commands: { allow: [run] }',
  });
  try {
    await limited.registerBase();
    await limited.addUser('carol');
    const first = await limited.dcm('carol', 'run', '-d', BASE_IMAGE, '--', 'sleep', '30');
    assert.equal(first.code, 0, first.stderr);
    const second = await limited.dcm('carol', 'run', '--rm', BASE_IMAGE, 'true');
    assert.equal(second.code, 5);
    assert.match(second.stderr, /^dcm: .*max_containers.*\n$/);
    const third = await limited.dcm('carol', 'create');
    assert.equal(third.code, 5);
  } finally {
    await limited.cleanup();
  }
});

test('stop, start, pause, unpause and rm take several containers; one not yours refuses them all', async () => {
  const a = Number((await env.dcm('alice', 'run', '-d', BASE_IMAGE, '--', 'sleep', '300')).stdout);
  const b = Number((await env.dcm('alice', 'run', '-d', BASE_IMAGE, '--', 'sleep', '300')).stdout);
  const bobs = Number((await env.dcm('bob', 'run', '-d', BASE_IMAGE, '--', 'sleep', '300')).stdout);
  const state = async (id: number) => (await dockerInspect(env.dockerName(id))).State.Status as string;

  for (const [bad, line] of [
    [String(bobs), `dcm: no such container: ${bobs}\n`],
    ['nosuch', 'dcm: no such container: nosuch\n'],
  ] as const) {
    const r = await env.dcm('alice', 'stop', String(a), String(b), bad);
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, '', line]);
    assert.deepEqual([await state(a), await state(b), await state(bobs)], ['running', 'running', 'running']);
    const rm = await env.dcm('alice', 'rm', '-f', bad, String(a));
    assert.deepEqual([rm.code, rm.stderr], [3, line]);
    assert.equal(await state(a), 'running');
  }
  const paused = await env.dcm('alice', 'pause', String(a), String(b));
  assert.deepEqual([paused.code, paused.stdout], [0, `paused ${a}: now paused\npaused ${b}: now paused\n`]);
  const unpaused = await env.dcm('alice', 'unpause', String(a), String(b));
  assert.equal(unpaused.code, 0, unpaused.stderr);
  const stopped = await env.dcmJson<{ id: number; state: string }[]>('alice', 'stop', String(a), String(b), String(a));
  assert.deepEqual(
    stopped.map((c) => [c.id, c.state]),
    [
      [a, 'exited'],
      [b, 'exited'],
    ],
  );
  const started = await env.dcm('alice', 'start', String(a), String(b));
  assert.equal(started.code, 0, started.stderr);
  assert.deepEqual([await state(a), await state(b)], ['running', 'running']);
  const removed = await env.dcm('alice', 'rm', '-f', String(a), String(b));
  assert.deepEqual([removed.code, removed.stdout], [0, `removed ${a}\nremoved ${b}\n`]);
  assert.deepEqual(
    rows('alice').filter((r) => r.id === a || r.id === b),
    [],
  );
  assert.equal((await env.dcm('bob', 'rm', '-f', String(bobs))).code, 0);
});

test('an attached run --rm whose dcm process is killed: the job ends on its own and leaves no row', async () => {
  const p = spawn(process.execPath, [BIN.dcm, '--user', 'alice', 'run', '--rm', BASE_IMAGE, '--', 'sh', '-c', 'echo up; sleep 3'], {
    env: { ...process.env, ...env.env },
  });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  const end = Date.now() + 60_000;
  while (out !== 'up\n' && Date.now() < end) await sleep(50);
  assert.equal(out, 'up\n');
  const jobs = rows('alice').filter((r) => r.auto_remove === 1);
  assert.equal(jobs.length, 1);
  p.kill('SIGKILL');
  // The engine removes the job's container when it ends, without dcm.
  const name = env.dockerName(jobs[0]!.id);
  const gone = Date.now() + 30_000;
  while ((await dockerInspect(name)) && Date.now() < gone) await sleep(200);
  assert.equal(await dockerInspect(name), null);
  // The row, which only a living process could still be attached to, goes at the owner's next command.
  assert.equal((await env.dcm('alice', 'show')).code, 0);
  assert.deepEqual(
    rows('alice').filter((r) => r.auto_remove === 1),
    [],
  );
});

test('usage: --json needs -d, -t needs a terminal, --root needs root rights, a command needs words', async () => {
  const cases: [string[], number, string][] = [
    [['run', '--rm', '--json', BASE_IMAGE, 'true'], 2, "dcm: run: --json only with -d (an attached job's output is its own)\n"],
    [['run', '-t', BASE_IMAGE, 'true'], 2, 'dcm: run: -t needs a terminal, and this connection has none (use ssh -t, or leave out -t)\n'],
    [
      ['run'],
      2,
      'dcm: run: missing IMAGE (usage: run [--rm] [-d|--detach] [-i|--interactive] [-t|--tty] [--root] [--name NAME] [--preset NAME] [--mount NAME]... [--gpus N|IDS] IMAGE [COMMAND...])\n',
    ],
    [['exec', '1'], 2, 'dcm: exec: missing COMMAND (usage: exec [-i|--interactive] [-t|--tty] [--root] CONTAINER COMMAND...)\n'],
    [['run', BASE_IMAGE, '--rm', 'true'], 127, 'dcm: cannot run "--rm": no such command in the image\n'],
    [['run', '--rm', 'no-such-image', 'true'], 3, 'dcm: no such image: no-such-image (run "images" to list yours)\n'],
  ];
  for (const [words, code, line] of cases) {
    const r = await env.dcm('alice', ...words);
    assert.deepEqual([r.code, r.stderr], [code, line], words.join(' '));
  }
  const host = new TestEnv({ tag: 'runjobh', sshPorts: '30075-30079', extraYaml: 'defaults:\n  user: host\n  commands: { allow: [run] }' });
  try {
    await host.registerBase();
    await host.addUser('dave');
    const r = await host.dcm('dave', 'run', '--rm', '--root', BASE_IMAGE, 'id', '-u');
    assert.deepEqual(
      [r.code, r.stderr],
      [4, 'dcm: run --root is refused: you may not be root in your containers (the administrator set "user: host"); nothing was created\n'],
    );
    const asUser = await host.dcm('dave', 'run', '--rm', BASE_IMAGE, 'id', '-u');
    assert.equal(asUser.code, 0, asUser.stderr);
    assert.notEqual(asUser.stdout, '0\n');
  } finally {
    await host.cleanup();
  }
  const root = await env.dcm('alice', 'run', '--rm', '--root', BASE_IMAGE, '--', 'sh', '-c', 'id -u; pwd');
  assert.deepEqual([root.code, root.stdout], [0, '0\n/root\n']);
});
