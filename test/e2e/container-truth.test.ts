/**
 * `show` tells the truth about containers changed behind dcm's back, on the
 * real engine: stopped or killed with the docker CLI (exited, with the code
 * and when, and it stays stopped), removed (a "gone" state, not an error,
 * and rm still clears it), and killed by the kernel at its memory limit (the
 * engine starts it again, and show says it did and why) — in text and JSON.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_IMAGE, TestEnv, dockerInspect, run, sshInto } from '../helpers/env.js';
import { sleep } from '../helpers/ssh.js';

const env = new TestEnv({
  tag: 'truth',
  sshPorts: '32640-32659',
  extraYaml: 'presets:\n  tiny:\n    memory: 32m\ndefaults:\n  presets: [tiny]\n',
});

before(async () => {
  await env.registerBase();
});
after(() => env.cleanup());

interface End {
  exitCode: number | null;
  oomKilled: boolean;
  endedAt: string | null;
  restarts: number;
}
interface Shown {
  id: number;
  state: string;
  status: string;
  end: End | null;
}

const GONE = 'removed from the container engine outside dcm; remove it with rm (the administrator can run dcm-admin reconcile)';

test("stopped, killed and removed behind dcm's back: show says exited with the code and when, and gone", async () => {
  await env.addUser('kim');
  const stopped = await env.dcmJson<Shown>('kim', 'create', '--name', 'stopped');
  const killed = await env.dcmJson<Shown>('kim', 'create', '--name', 'killed');
  const removed = await env.dcmJson<Shown>('kim', 'create', '--name', 'removed');
  assert.equal((await run('docker', ['stop', env.dockerName(stopped.id)])).code, 0);
  assert.equal((await run('docker', ['kill', env.dockerName(killed.id)])).code, 0);
  assert.equal((await run('docker', ['rm', '-f', env.dockerName(removed.id)])).code, 0);
  const stoppedState = (await dockerInspect(env.dockerName(stopped.id))).State;
  const killedState = (await dockerInspect(env.dockerName(killed.id))).State;

  const s = await env.dcm('kim', 'show', 'stopped');
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(s.stdout.split('\n').slice(0, 2), [
    `container ${stopped.id} (stopped) from ${BASE_IMAGE} is exited`,
    `  ended at ${stoppedState.FinishedAt} with code ${stoppedState.ExitCode}`,
  ]);
  const k = await env.dcm('kim', 'show', 'killed');
  assert.deepEqual(k.stdout.split('\n').slice(0, 2), [
    `container ${killed.id} (killed) from ${BASE_IMAGE} is exited`,
    `  ended at ${killedState.FinishedAt} with code 137 (killed)`,
  ]);
  const g = await env.dcm('kim', 'show', 'removed');
  assert.deepEqual([g.code, g.stdout, g.stderr], [0, `container ${removed.id} (removed) from ${BASE_IMAGE} is gone: ${GONE}\n`, '']);

  // The same in JSON, for one container and in the list.
  const one = await env.dcmJson<Shown>('kim', 'show', 'killed');
  assert.deepEqual([one.state, one.end], ['exited', { exitCode: 137, oomKilled: false, endedAt: killedState.FinishedAt, restarts: 0 }]);
  const list = new Map((await env.dcmJson<Shown[]>('kim', 'show')).map((c) => [c.id, c]));
  assert.deepEqual(
    [stopped, killed, removed].map((c) => [list.get(c.id)!.state, list.get(c.id)!.end?.exitCode ?? null]),
    [
      ['exited', stoppedState.ExitCode],
      ['exited', 137],
      ['gone', null],
    ],
  );
  assert.deepEqual([list.get(removed.id)!.status, list.get(removed.id)!.end], [GONE, null]);
  const table = (await env.dcm('kim', 'show')).stdout.split('\n');
  assert.match(table.find((l) => l.startsWith(`${removed.id} `))!, new RegExp(`^${removed.id} +removed +\\S+ +gone `));

  // What was done behind dcm's back holds: the engine does not start a killed or stopped container again.
  await sleep(2000);
  assert.deepEqual(
    [(await dockerInspect(env.dockerName(stopped.id))).State.Status, (await dockerInspect(env.dockerName(killed.id))).State.Status],
    ['exited', 'exited'],
  );
  // A gone container is cleared by rm like any other.
  const rm = await env.dcm('kim', 'rm', 'removed');
  assert.deepEqual([rm.code, rm.stderr], [0, '']);
  assert.deepEqual((await env.dcmJson<Shown[]>('kim', 'show')).map((c) => c.id).sort(), [stopped.id, killed.id].sort());
});

test('the kernel kills its sshd at the memory limit: the engine starts it again, and show says so and why', async () => {
  const lee = await env.addUser('lee');
  const c = await env.dcmJson<Shown>('lee', 'create', '--preset', 'tiny');
  assert.equal((await dockerInspect(env.dockerName(c.id))).HostConfig.Memory, 32 * 1024 ** 2);
  // Root in the container makes its sshd (PID 1) the kernel's first choice, then takes more memory than the limit.
  const hog = await sshInto(lee.keyFile, 'root', '127.0.0.1', c.id, 'echo 1000 > /proc/1/oom_score_adj && head -c 256m /dev/zero | tail');
  assert.notEqual(hog.code, 0, 'the session ended with its sshd');
  let shown: Shown | undefined;
  const end = Date.now() + 30_000;
  while (!(shown?.state === 'running' && shown.end?.restarts === 1)) {
    assert.ok(Date.now() < end, `not started again: ${JSON.stringify(shown)}`);
    await sleep(200);
    shown = await env.dcmJson<Shown>('lee', 'show', String(c.id));
  }
  const st = (await dockerInspect(env.dockerName(c.id))).State;
  assert.deepEqual(shown.end, { exitCode: null, oomKilled: true, endedAt: st.FinishedAt, restarts: 1 });
  const text = await env.dcm('lee', 'show', String(c.id));
  assert.deepEqual(text.stdout.split('\n').slice(0, 2), [
    `container ${c.id} from ${BASE_IMAGE} is running`,
    `  started again by the engine once after it ended on its own, last at ${st.FinishedAt} (out of memory: the kernel killed a process of it at its memory limit)`,
  ]);
  // And it is reachable again.
  const back = await sshInto(lee.keyFile, 'root', '127.0.0.1', c.id, 'echo back');
  assert.deepEqual([back.code, back.stdout], [0, 'back\n'], back.stderr);
});
