/**
 * Output that streams: what a command prints reaches the client while the
 * command still runs, on every door. `logs -f` over OpenSSH, over ssh2 and
 * through the local command socket follows the log until the container
 * stops (exit 0, the exact log), and ends when the client goes away (its
 * session slot is free again at once: the per-user limit here is 1);
 * Ctrl-C in the interactive shell stops following; `create` shows its
 * progress on stderr as it goes (and none with --json).
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { BIN, TestEnv, run, type TestUser } from '../helpers/env.js';
import { KEY, Typist, clientCfg, sleep, ssh, ssh2Connect, ssh2Exec, sshOpts, startServer, type ServerProc } from '../helpers/ssh.js';
import { slowEngine, type SlowEngine } from '../helpers/slow-engine.js';

const PORT = tp(33100);
const SLOW_PORT = tp(33101);
/** What sshd (the container's PID 1) logs when `docker stop` sends it SIGTERM. */
const SSHD_STOPS = 'Received signal 15; terminating.\r\n'; // sshd -e ends its lines with CR LF

/** A child process whose output is collected as it comes. */
class Follower {
  stdout = '';
  stderr = '';
  readonly exit: Promise<number | null>;

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exit = new Promise((r) => proc.once('exit', (c) => r(c)));
  }

  running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Waits (bounded) until stdout is exactly `text`, the process still running. */
  async until(text: string, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (this.stdout !== text) {
      if (!this.running())
        throw new Error(
          `exited ${this.proc.exitCode} before printing ${JSON.stringify(text)}; stdout ${JSON.stringify(this.stdout)}, stderr ${JSON.stringify(this.stderr)}`,
        );
      if (Date.now() > end) throw new Error(`stdout never became ${JSON.stringify(text)}; it is ${JSON.stringify(this.stdout)}`);
      await sleep(30);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running()) this.proc.kill(signal);
  }
}

describe('output that streams', () => {
  const env = new TestEnv({ tag: 'stream', sshPorts: '33150-33189', extraYaml: 'server:\n  max_sessions_per_user: 1\n' });
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    server = await startServer(env, PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  /** A new running container of alice's, and its log so far (read with the plain `logs`). */
  async function container(): Promise<{ id: number; docker: string; log: string }> {
    const c = await env.dcmJson<{ id: number }>('alice', 'create');
    const logs = await ssh(alice.keyFile, PORT, 'alice', ['logs', String(c.id)]);
    assert.equal(logs.code, 0, logs.stderr);
    return { id: c.id, docker: env.dockerName(c.id), log: logs.stdout };
  }

  /** Writes one line to the container's log, as its PID 1 would. */
  async function say(docker: string, line: string): Promise<void> {
    const r = await run('docker', ['exec', docker, 'sh', '-c', `echo ${line} > /proc/1/fd/2`]);
    assert.equal(r.code, 0, r.stderr);
  }

  /** The one slot is free again: a new session's command succeeds (waits a bounded while for it). */
  async function slotFreed(): Promise<void> {
    const end = Date.now() + 5000;
    for (;;) {
      const r = await ssh(alice.keyFile, PORT, 'alice', ['show']);
      if (r.code === 0) return;
      assert.equal(r.stderr, 'dcm: too many open sessions for alice (limit 1): close one and try again\n');
      if (Date.now() > end) assert.fail('the followed session still holds the slot 5 s after its client left');
      await sleep(100);
    }
  }

  test('OpenSSH exec: logs -f prints each line while it runs, and ends with the container: exit 0, the exact log', async () => {
    const c = await container();
    const f = new Follower(
      spawn('ssh', [...sshOpts(alice.keyFile, PORT), 'alice@127.0.0.1', 'logs', '-f', String(c.id)], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    try {
      await f.until(c.log);
      await say(c.docker, 'first');
      await f.until(c.log + 'first\n');
      await sleep(300);
      assert.ok(f.running(), 'the command is still following');
      await say(c.docker, 'second');
      await f.until(c.log + 'first\nsecond\n');
      assert.equal((await run('docker', ['stop', '-t', '10', c.docker])).code, 0);
      assert.equal(await f.exit, 0, f.stderr);
      assert.equal(f.stdout, c.log + 'first\nsecond\n' + SSHD_STOPS);
      assert.equal(f.stderr, '');
    } finally {
      f.kill();
    }
  });

  test('ssh2 exec: a client that closes mid-follow ends the command and frees its session slot', async () => {
    const c = await container();
    const conn = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    let ch: ssh2.ClientChannel | undefined;
    try {
      let got = '';
      ch = await new Promise<ssh2.ClientChannel>((res, rej) => conn.exec(`logs -f ${c.id}`, (e, x) => (e ? rej(e) : res(x))));
      ch.on('data', (d: Buffer) => (got += d));
      ch.stderr.on('data', (d: Buffer) => (got += d));
      let exited = false;
      ch.on('exit', () => (exited = true));
      const end = Date.now() + 20_000;
      while (got !== c.log && Date.now() < end) await sleep(30);
      assert.equal(got, c.log, 'the log so far arrived');
      await say(c.docker, 'more');
      while (got !== c.log + 'more\n' && Date.now() < end) await sleep(30);
      assert.equal(got, c.log + 'more\n');
      assert.equal(exited, false, 'still following');
      // The slot is taken: a second session is refused.
      const over = await ssh(alice.keyFile, PORT, 'alice', ['show']);
      assert.equal(over.code, 5);
      assert.equal(over.stderr, 'dcm: too many open sessions for alice (limit 1): close one and try again\n');
      ch.close();
      await slotFreed();
    } finally {
      conn.end();
    }
    // The container runs on; only the following ended.
    assert.equal((await run('docker', ['inspect', '-f', '{{.State.Running}}', c.docker])).stdout.trim(), 'true');
  });

  test('OpenSSH killed mid-follow (no pty) frees the slot; with a pty, Ctrl-C ends logs -f with exit 0', async () => {
    const c = await container();
    const f = new Follower(
      spawn('ssh', [...sshOpts(alice.keyFile, PORT), 'alice@127.0.0.1', 'logs', '-f', String(c.id)], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    try {
      await f.until(c.log);
      f.kill('SIGKILL');
      await f.exit;
      await slotFreed();
    } finally {
      f.kill();
    }
    const t = new Typist(
      spawn('ssh', ['-tt', ...sshOpts(alice.keyFile, PORT), 'alice@127.0.0.1', 'logs', '-f', String(c.id)], {
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    try {
      const at = await t.expect(/Server listening on :: port 22\.\n/);
      await say(c.docker, 'beforectrlc');
      await t.expect(/beforectrlc\n/, at);
      t.type(KEY.ctrlC);
      assert.equal(await t.exit, 0, t.text());
      assert.ok(!t.text().includes('dcm:'), t.text());
    } finally {
      t.kill();
    }
    await slotFreed();
  });

  test('interactive shell: logs -f shows lines as they come; Ctrl-C stops following and the prompt is back', async () => {
    const c = await container();
    const t = Typist.ssh(alice.keyFile, PORT, 'alice');
    try {
      let at = await t.expect(/alice@dcm> /);
      t.type(`logs -f ${c.id}` + KEY.enter);
      at = await t.expect(/Server listening on :: port 22\.\n/, at);
      await say(c.docker, 'typedfollow');
      at = await t.expect(/typedfollow\n/, at);
      t.type(KEY.ctrlC);
      at = await t.expect(/\^C\nalice@dcm> /, at);
      // No longer following: a later line is not shown; the shell takes commands again.
      await say(c.docker, 'notshown');
      t.type('show' + KEY.enter);
      at = await t.expect(new RegExp(`${c.id}[\\s\\S]*alice@dcm> `), at);
      await sleep(500);
      assert.ok(!t.text().includes('notshown'), t.text());
      t.type('exit' + KEY.enter);
      assert.equal(await t.exit, 0);
    } finally {
      t.kill();
    }
    await slotFreed();
  });

  test('command socket: dcm --user NAME logs -f streams while it runs and ends with the container; a door killed mid-follow frees the slot', async () => {
    const c = await container();
    const door = () =>
      new Follower(
        spawn(process.execPath, [BIN.dcm, '--user', 'alice', 'logs', '-f', String(c.id)], {
          env: { ...process.env, ...env.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
    const gone = door();
    try {
      await gone.until(c.log);
      gone.kill('SIGINT');
      await gone.exit;
    } finally {
      gone.kill();
    }
    await slotFreed();
    const f = door();
    try {
      await f.until(c.log);
      await say(c.docker, 'viasocket');
      await f.until(c.log + 'viasocket\n');
      await sleep(300);
      assert.ok(f.running(), 'the door is still following');
      assert.equal((await run('docker', ['stop', '-t', '10', c.docker])).code, 0);
      assert.equal(await f.exit, 0, f.stderr);
      assert.equal(f.stdout, c.log + 'viasocket\n' + SSHD_STOPS);
      assert.equal(f.stderr, '');
    } finally {
      f.kill();
    }
    assert.match(server.log(), /command socket: alice via the root socket \(dcm\)/);
    assert.equal(server.proc.exitCode, null, 'the server lives on');
  });

  test('logs -f --json is refused with one usage line; logs --json is still one document', async () => {
    const c = await container();
    const r = await ssh(alice.keyFile, PORT, 'alice', ['logs', '-f', String(c.id), '--json']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '{"error":"logs: --follow prints lines as they come and takes no --json (use logs --json without --follow)"}\n');
    assert.equal(r.stderr, 'dcm: logs: --follow prints lines as they come and takes no --json (use logs --json without --follow)\n');
    const j = await ssh(alice.keyFile, PORT, 'alice', ['logs', String(c.id), '--json']);
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual(JSON.parse(j.stdout), { lines: c.log.split('\n').slice(0, -1) });
    assert.equal(j.stderr, '');
  });
});

describe('progress on stderr, and a follower paced by its reader (the engine behind a counting proxy)', () => {
  // The engine holds every "create container" request back for a while, so a
  // line that streams arrives that much before the command ends.
  const HOLD_MS = 2500;
  const env = new TestEnv({ tag: 'progress', sshPorts: '33190-33199' });
  let proxy: SlowEngine;
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    proxy = await slowEngine(join(env.stateDir, 'engine.sock'), HOLD_MS);
    writeFileSync(env.configFile, readFileSync(env.configFile, 'utf8') + `\nengine:\n  socket: ${proxy.socket}\n`);
    await env.registerBase();
    alice = await env.addUser('alice');
    server = await startServer(env, SLOW_PORT);
  });
  after(async () => {
    await server?.stop();
    await proxy?.close();
    await env.cleanup();
  });

  test('create over exec prints each step on stderr as it begins; stdout is unchanged', async () => {
    const conn = await ssh2Connect(clientCfg(SLOW_PORT, 'alice', alice.keyFile));
    try {
      const seen: { line: string; at: number }[] = [];
      let stdout = '';
      let stderr = '';
      const { code, exitAt } = await new Promise<{ code: number; exitAt: number }>((res, rej) => {
        conn.exec('create', (e, ch) => {
          if (e) return rej(e);
          let code = -1;
          let exitAt = 0;
          ch.on('data', (d: Buffer) => (stdout += d));
          ch.stderr.on('data', (d: Buffer) => {
            stderr += d;
            for (const line of String(d).split('\n').filter(Boolean)) seen.push({ line, at: Date.now() });
          });
          ch.on('exit', (c: number) => {
            code = c;
            exitAt = Date.now();
          });
          ch.on('close', () => res({ code, exitAt }));
        });
      });
      assert.equal(code, 0, stderr);
      const id = /ssh -p (\d+) alice@/.exec(stdout)?.[1];
      assert.ok(id, stdout);
      assert.equal(stderr, `creating container ${id}...\nstarting it...\nwaiting for its sshd...\n`);
      // The first step's line came while the engine still held the create back.
      assert.ok(exitAt - seen[0]!.at >= HOLD_MS - 500, `"${seen[0]!.line}" came ${exitAt - seen[0]!.at} ms before the end`);
      assert.equal(
        stdout,
        `container ${id} from dcm/debian-base:bookworm is running\n  ssh -p ${id} root@127.0.0.1\n  ssh -p ${id} alice@127.0.0.1\n`,
      );
      // --json: one document on stdout, and no progress at all.
      const j = await ssh2Exec(conn, 'create --json');
      assert.equal(j.code, 0, j.stderr);
      assert.equal(j.stderr, '');
      assert.equal(typeof JSON.parse(j.stdout).sshPort, 'number');
    } finally {
      conn.end();
    }
  });

  test('create through OpenSSH and through the command socket: the same progress lines on stderr', async () => {
    const viaSsh = await ssh(alice.keyFile, SLOW_PORT, 'alice', ['create']);
    assert.equal(viaSsh.code, 0, viaSsh.stderr);
    const a = /ssh -p (\d+) alice@/.exec(viaSsh.stdout)![1];
    assert.equal(viaSsh.stderr, `creating container ${a}...\nstarting it...\nwaiting for its sshd...\n`);
    const viaSocket = await env.dcm('alice', 'create');
    assert.equal(viaSocket.code, 0, viaSocket.stderr);
    const b = /ssh -p (\d+) alice@/.exec(viaSocket.stdout)![1];
    assert.equal(viaSocket.stderr, `creating container ${b}...\nstarting it...\nwaiting for its sshd...\n`);
  });

  test('commit over exec prints its steps on stderr; stdout is unchanged', async () => {
    const c = await env.dcmJson<{ id: number }>('alice', 'create');
    const r = await ssh(alice.keyFile, SLOW_PORT, 'alice', ['commit', String(c.id), 'snap']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `saved ${c.id} as snap:latest\n`);
    assert.equal(r.stderr, `saving container ${c.id} as an image...\nnaming it snap:latest...\n`);
  });

  test('dcm logs -f whose reader stops reading: the server reads only a bounded part of the log; once it reads, all of it arrives', async (t) => {
    // 8 MB in lines of 1000 characters: less than the 10 MB at which the engine rotates the log
    // file (following a slow reader across a rotation, Docker 20.10 loses and repeats lines).
    const LINES = 8000;
    const X = 'x'.repeat(1000);
    const c = await env.dcmJson<{ id: number }>('alice', 'create');
    const docker = env.dockerName(c.id);
    // Through the command socket: the door's stdout is a pipe nobody reads yet.
    const door = spawn(process.execPath, [BIN.dcm, '--user', 'alice', 'logs', '-f', '--tail', '0', String(c.id)], {
      env: { ...process.env, ...env.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      door.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((r) => door.once('exit', (code) => r(code)));
      await sleep(1500); // the follow is under way
      const before = proxy.fromEngine();
      const write = await run('docker', [
        'exec',
        docker,
        'sh',
        '-c',
        `{ head -c ${LINES * 1000} /dev/zero | tr '\\0' x | fold -w 1000; echo; } > /proc/1/fd/2`,
      ]);
      assert.equal(write.code, 0, write.stderr);
      await sleep(2000);
      const read = proxy.fromEngine() - before;
      t.diagnostic(`read from the engine while nobody read: ${read} bytes`);
      // What the pipe, the sockets and their buffers hold: a small part of the log.
      assert.ok(read < 2_500_000, `the server read ${read} bytes of an 8 MB log for a reader that reads nothing`);
      assert.equal((await run('docker', ['stop', '-t', '10', docker])).code, 0);
      // Now the reader reads: every line arrives, then the end.
      let got = '';
      door.stdout!.setEncoding('utf8').on('data', (d: string) => (got += d));
      assert.equal(await exited, 0, stderr);
      assert.equal(stderr, '');
      assert.equal(got, `${X}\n`.repeat(LINES) + SSHD_STOPS);
    } finally {
      if (door.exitCode === null) door.kill('SIGKILL');
    }
  });
});
