/**
 * dcm-server's local command socket: one-shot `dcm` and forced-command
 * `dcm-shell` hand their command to a running server. Same answers as running
 * in-process, same identity rules, the same per-user session limit as SSH,
 * bad requests answered with one line, and a crashed server's socket never
 * stops the doors (they fall back to running the command themselves).
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { BIN, TestEnv, run, type TestUser } from '../helpers/env.js';
import { clientCfg, doorBin, ssh2Connect, startServer, type ServerProc } from '../helpers/ssh.js';
import { answerOf } from '../helpers/command-answer.js';

const PORT = tp(32030);

/** Sends raw bytes to the socket and returns what comes back before it closes. */
function rawRequest(path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.end(body);
    setTimeout(() => reject(new Error('no answer in 10s')), 10_000).unref();
  });
}

describe('command socket', () => {
  const env = new TestEnv({ tag: 'sock', sshPorts: '31250-31299', extraYaml: 'server:\n  max_sessions_per_user: 2\n' });
  const sock = () => join(env.stateDir, 'run', 'root', 'command.sock');
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

  test('the root socket is 0600 root; no socket sits in the state directory itself', () => {
    const st = statSync(sock());
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 0);
    assert.equal(existsSync(join(env.stateDir, 'dcm-server.sock')), false);
    assert.match(server.log(), /command socket for root: .*run\/root\/command\.sock/);
  });

  test('dcm and dcm-shell commands go through the server and share its session limit', async () => {
    const shellDoor = (command: string) =>
      run(process.execPath, [doorBin('dcm-shell'), '--state-dir', env.stateDir], { SUDO_USER: 'alice', SSH_ORIGINAL_COMMAND: command });
    const ok = await env.dcm('alice', 'whoami', '--json');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).user, 'alice');
    const viaShell = await shellDoor('show --json');
    assert.equal(viaShell.code, 0, viaShell.stderr);
    assert.deepEqual(JSON.parse(viaShell.stdout), []);
    // Two interactive SSH sessions take alice's two slots: one-shot doors now get the limit too,
    // which only the server knows about, so this shows the commands really went there.
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    const shells: ssh2.ClientChannel[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        shells.push(
          await new Promise((res, rej) => c.shell({ term: 'dumb' }, (e, ch) => (e ? rej(e) : (ch.on('data', () => undefined), res(ch))))),
        );
      }
      for (const r of [await env.dcm('alice', 'show'), await shellDoor('show')]) {
        assert.equal(r.code, 5, r.stderr);
        assert.equal(r.stderr, 'dcm: too many open sessions for alice (limit 2): close one and try again\n');
      }
    } finally {
      c.end();
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await env.dcm('alice', 'show')).code, 0);
  });

  test('identity rules and errors are the same as in-process', async () => {
    const noUser = await run(process.execPath, [BIN.dcm, 'show'], { ...env.env, SUDO_USER: '' });
    assert.equal(noUser.code, 2);
    assert.equal(noUser.stderr, 'dcm: as root, name the user with --user NAME (users run "sudo dcm ...")\n');
    const ghost = await env.dcm('ghost', 'show');
    assert.equal(ghost.code, 4);
    assert.match(ghost.stderr, /ghost is not a dcm user/);
    const shellUser = await run(process.execPath, [doorBin('dcm-shell'), '--user', 'alice', '--state-dir', env.stateDir], {
      SUDO_USER: 'bob',
      SSH_ORIGINAL_COMMAND: 'whoami',
    });
    assert.equal(shellUser.code, 4);
    assert.equal(shellUser.stderr, 'dcm-shell: --user is not allowed under sudo: you act as yourself\n');
    const outsideSshd = await run(process.execPath, [doorBin('dcm-shell'), '--user', 'alice', '--state-dir', env.stateDir], {
      SUDO_USER: '',
      SSH_CONNECTION: '',
      SSH_ORIGINAL_COMMAND: 'whoami',
    });
    assert.equal(outsideSshd.code, 4);
    assert.match(outsideSshd.stderr, /accepted only/);
    const quoted = await run(process.execPath, [doorBin('dcm-shell'), '--state-dir', env.stateDir], {
      SUDO_USER: 'alice',
      SSH_ORIGINAL_COMMAND: 'show "unclosed',
    });
    assert.equal(quoted.code, 2);
    assert.match(quoted.stderr, /^dcm: .*quote/);
  });

  test('malformed and oversized requests get one line; the server carries on', async () => {
    for (const body of ['not json\n', '{"v":2,"door":"local","facts":{"euid":0,"userFlag":"alice"},"words":[1,2]}\n', '{"v":99}\n']) {
      const r = answerOf(await rawRequest(sock(), body));
      assert.equal(r.code, 2, body);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    const big = answerOf(await rawRequest(sock(), 'x'.repeat(70 * 1024)));
    assert.equal(big.code, 2);
    assert.equal(big.stderr, 'dcm: request too large\n');
    assert.equal(server.proc.exitCode, null);
    assert.equal((await env.dcm('alice', 'show')).code, 0);
  });

  test('the answer streams in frames, the exit code last; a door of protocol version 1 is told plainly in its own format', async () => {
    const req = (v: number) =>
      JSON.stringify({ v, door: 'local', facts: { euid: 0, ruid: 0, account: 'root', userFlag: 'alice' }, words: ['whoami', '--json'] }) +
      '\n';
    const raw = await rawRequest(sock(), req(2));
    const frames = raw
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(frames[frames.length - 1], { code: 0 });
    assert.ok(
      frames.slice(0, -1).every((f) => typeof f.out === 'string'),
      raw,
    );
    assert.equal(JSON.parse(answerOf(raw).stdout).user, 'alice');
    // Version 1 read one JSON object once the server closed: that is what it gets.
    const old = JSON.parse(await rawRequest(sock(), req(1)));
    assert.deepEqual(old, {
      code: 2,
      stdout: '',
      stderr:
        'dcm: dcm and dcm-server are different versions (command socket protocol 1 here, 2 in dcm-server): restart dcm-server after an upgrade\n',
    });
  });

  test('a door that hangs up right after its request costs the server nothing', async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = connect(sock());
        s.on('connect', () => {
          s.write(
            JSON.stringify({ v: 2, door: 'local', facts: { euid: 0, ruid: 0, account: 'root', userFlag: 'alice' }, words: ['show'] }) +
              '\n',
          );
          s.destroy();
          resolve();
        });
        s.on('error', reject);
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.proc.exitCode, null);
    const r = await env.dcm('alice', 'show');
    assert.equal(r.code, 0, r.stderr);
  });

  test('a crashed server leaves a stale socket: the doors run commands themselves, a new server takes the socket over', async () => {
    await server.stop('SIGKILL');
    assert.ok(existsSync(sock()), 'SIGKILL leaves the socket file');
    const r = await env.dcm('alice', 'whoami', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).user, 'alice');
    server = await startServer(env, PORT);
    await server.waitLog(/command socket for root: /);
    assert.equal((await env.dcm('alice', 'show')).code, 0);
  });
});
