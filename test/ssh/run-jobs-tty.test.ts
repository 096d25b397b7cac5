/**
 * Attached jobs on a terminal, through every door, with real clients and the
 * real engine: `run` over OpenSSH `ssh -tt` (the job gets a terminal of the
 * client's size, keys and Ctrl-C reach it, its exit code is ssh's), the local
 * door in a pty made by util-linux `script` (through dcm-server's socket and
 * in the door's own process), the interactive shell; detaching with Ctrl-P
 * Ctrl-Q, `attach` again, `wait` and `logs`; `exec -it` and `exec`; a
 * detached job outlives the connection that attached to it, an attached one
 * is stopped when its connection goes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_IMAGE, BIN, TestEnv, dockerInspect, run, type TestUser } from '../helpers/env.js';
import { tp } from '../helpers/ports.js';
import { KEY, Typist, endSuite, sleep, ssh, sshOpts, startSuite, type ServerProc } from '../helpers/ssh.js';

/** `run` is off unless the policy allows it (policy/command-grants.ts). */
const RUN_ALLOWED = 'defaults:\n  commands: { allow: [run] }';

const PORT = tp(30098);
const CTRL_P = '\x10';
const CTRL_Q = '\x11';

describe('attached jobs on a terminal', () => {
  const env = new TestEnv({ tag: 'runtty', sshPorts: '30080-30086', extraYaml: RUN_ALLOWED });
  const alone = new TestEnv({ tag: 'runtty2', sshPorts: '30087-30089', extraYaml: RUN_ALLOWED });
  let server: ServerProc | undefined;
  let alice: TestUser;

  before(async () => {
    const suite = await startSuite(env, PORT, 'alice');
    server = suite.server;
    alice = suite.users[0]!;
    await alone.registerBase();
    const r = await alone.tool('useradd', 'alice', '--key', `${alice!.keyFile}.pub`);
    assert.equal(r.code, 0, r.stderr);
  });
  /** Every client a test started: killed at the end, so a failed test leaves no process behind. */
  const started: Typist[] = [];
  const track = (t: Typist) => (started.push(t), t);
  after(async () => {
    for (const t of started) t.kill();
    await endSuite(server, env);
    await alone.cleanup();
  });

  /** `ssh -tt alice@dcm COMMAND` with a scripted keyboard. */
  const sshTty = (command: string) =>
    track(
      new Typist(
        spawn('ssh', ['-tt', ...sshOpts(alice.keyFile, PORT), 'alice@127.0.0.1', command], {
          env: { ...process.env, TERM: 'xterm' },
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
      ),
    );

  /** `shell` run by util-linux `script` in a pty of 100 columns and 30 rows. */
  const inPty = (shell: string, e: TestEnv) =>
    track(
      new Typist(
        spawn('script', ['-qefc', `stty cols 100 rows 30; ${shell}`, '/dev/null'], {
          env: { ...process.env, ...e.env, TERM: 'xterm' },
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
      ),
    );

  const state = async (e: TestEnv, id: number) => (await dockerInspect(e.dockerName(id)))?.State.Status ?? 'gone';

  test('ssh -tt run --rm: a terminal of the client size, typed input, exit code passed back, nothing left', async () => {
    // (The size is asked after the first key: the engine sizes a job's terminal just after its start.)
    const t = sshTty(`run --rm ${BASE_IMAGE} sh -c 'tty; echo ready; read x; stty size; echo got:$x; exit 4'`);
    const at = await t.expect(/\/dev\/pts\/\d+\nready\n/);
    t.type('abc\r');
    // ssh's own stdin is no terminal here, so it asks for a pty of no size: the job gets 80x24.
    await t.expect(/24 80\ngot:abc\n/, at);
    assert.equal(await t.exit, 4);
    assert.equal((await env.dcm('alice', 'show')).stdout, 'no containers (create one with "create", or run a job with "run")\n');
  });

  test('Ctrl-C reaches the job on its terminal, not dcm', async () => {
    const t = sshTty(`run --rm ${BASE_IMAGE} sh -c 'trap "echo caught; exit 9" INT; echo ready; while true; do sleep 1; done'`);
    const at = await t.expect(/ready\n/);
    t.type(KEY.ctrlC);
    await t.expect(/caught\n/, at);
    assert.equal(await t.exit, 9);
  });

  test("the window size of the client's terminal, and its changes, reach the job", async () => {
    const opts = sshOpts(alice.keyFile, PORT)
      .map((o) => `'${o}'`)
      .join(' ');
    const ttyFile = join(env.stateDir, 'client-tty');
    const t = inPty(
      `tty > ${ttyFile}; ssh -tt ${opts} alice@127.0.0.1 "run --rm ${BASE_IMAGE} sh -c 'echo ready; read x; stty size; read x; stty size'"`,
      env,
    );
    let at = await t.expect(/ready\n/);
    t.type('x\r');
    at = await t.expect(/30 100\n/, at);
    // The client's window changes (its pty resized from outside; the kernel tells ssh, ssh tells dcm).
    const resized = await run('stty', ['-F', readFileSync(ttyFile, 'utf8').trim(), 'cols', '90', 'rows', '20']);
    assert.equal(resized.code, 0, resized.stderr);
    await sleep(500);
    t.type('x\r');
    await t.expect(/20 90\n/, at);
    assert.equal(await t.exit, 0);
  });

  for (const [door, e] of [
    ['through dcm-server', env],
    ['in its own process (no dcm-server)', alone],
  ] as const) {
    test(`sudo-style dcm run in a pty, ${door}: terminal, size, keys, exit code`, async () => {
      const t = inPty(
        `${process.execPath} ${BIN.dcm} --user alice run --rm ${BASE_IMAGE} sh -c 'tty; read x; stty size; echo got:$x; exit 3'`,
        e,
      );
      const at = await t.expect(/\/dev\/pts\/\d+\n/);
      t.type('hey\r');
      await t.expect(/30 100\ngot:hey\n/, at);
      assert.equal(await t.exit, 3);
      // The local terminal is put back: the next program sees a cooked terminal.
      const after = inPty(`${process.execPath} ${BIN.dcm} --user alice run --rm ${BASE_IMAGE} true; stty -a | grep -o ' icanon'`, e);
      await after.expect(/ icanon/);
      assert.equal(await after.exit, 0);
    });
  }

  test('detach with Ctrl-P Ctrl-Q, attach again, wait and logs; the job outlives its connections', async () => {
    const t = sshTty(`run --name det ${BASE_IMAGE} sh -c 'echo started; read x; echo got:$x; read y; echo got:$y; exit 7'`);
    const at = await t.expect(/started\n/);
    t.type(`${CTRL_P}${CTRL_Q}`);
    await t.expect(/detached from \d+; it goes on/, at);
    assert.equal(await t.exit, 0);
    const id = (await env.dcmJson('alice', 'show', 'det')).id as number;
    assert.equal(await state(env, id), 'running');

    // An attach whose connection is lost leaves the job running.
    const lost = sshTty('attach det');
    await sleep(1500);
    lost.kill();
    await lost.exit;
    await sleep(500);
    assert.equal(await state(env, id), 'running');

    const back = sshTty('attach det');
    await sleep(1000);
    back.type('one\r');
    const at2 = await back.expect(/got:one\n/);
    back.type('two\r');
    await back.expect(/got:two\n/, at2);
    assert.equal(await back.exit, 7);
    const w = await ssh(alice.keyFile, PORT, 'alice', ['wait', 'det']);
    assert.deepEqual([w.code, w.stdout], [7, '7\n']);
    const logs = await ssh(alice.keyFile, PORT, 'alice', ['logs', 'det']);
    assert.match(logs.stdout, /started\r\n[\s\S]*got:one\r\n[\s\S]*got:two\r\n/);
    assert.equal((await env.dcm('alice', 'rm', 'det')).code, 0);
  });

  test('an attached run is stopped when its connection goes', async () => {
    const t = sshTty(`run --name gone ${BASE_IMAGE} sh -c 'echo up; sleep 300'`);
    await t.expect(/up\n/);
    t.kill();
    await t.exit;
    const id = (await env.dcmJson('alice', 'show', 'gone')).id as number;
    const end = Date.now() + 30_000;
    while ((await state(env, id)) === 'running' && Date.now() < end) await sleep(200);
    assert.equal(await state(env, id), 'exited');
    assert.equal((await env.dcm('alice', 'rm', 'gone')).code, 0);
  });

  test('exec -it and exec in a running job: terminal, input, exit codes; another user cannot', async () => {
    const started = await env.dcm('alice', 'run', '-d', '--name', 'bg', BASE_IMAGE, 'sleep', '300');
    assert.equal(started.code, 0, started.stderr);
    const t = sshTty(`exec -it bg sh -c 'tty; read y; echo y:$y; exit 6'`);
    const at = await t.expect(/\/dev\/pts\/\d+\n/);
    t.type('why\r');
    await t.expect(/y:why\n/, at);
    assert.equal(await t.exit, 6);
    const who = await env.dcmJson('alice', 'whoami');
    const plain = await ssh(alice.keyFile, PORT, 'alice', ['exec', 'bg', 'id', '-u']);
    assert.deepEqual([plain.code, plain.stdout, plain.stderr], [0, `${who.uid}\n`, '']);
    const code = await ssh(alice.keyFile, PORT, 'alice', ['exec', 'bg', 'sh', '-c', "'echo x >&2; exit 4'"]);
    assert.deepEqual([code.code, code.stderr], [4, 'x\n']);
    const noTty = await ssh(alice.keyFile, PORT, 'alice', ['exec', '-t', 'bg', 'true']);
    assert.deepEqual(
      [noTty.code, noTty.stderr],
      [2, 'dcm: exec: -t needs a terminal, and this connection has none (use ssh -t, or leave out -t)\n'],
    );
    assert.equal((await env.dcm('alice', 'rm', '-f', 'bg')).code, 0);
  });

  test('run in the interactive shell: the job has the terminal, then the prompt comes back', async () => {
    const t = track(Typist.ssh(alice.keyFile, PORT, 'alice'));
    let at = await t.expect(/alice@dcm> /);
    t.type(`run --rm ${BASE_IMAGE} sh -c 'echo ready; read x; echo got:$x; exit 2'\r`);
    at = await t.expect(/ready\n/, at);
    t.type('typed\r');
    at = await t.expect(/got:typed\n/, at);
    await t.expect(/alice@dcm> /, at);
    t.type('exit\r');
    assert.equal(await t.exit, 0);
  });
});
