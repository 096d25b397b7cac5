/**
 * dcm-server with real clients (OpenSSH ssh and ssh2's Client): key
 * authentication, exec in text and JSON, no impersonation, every refused
 * request type, a stable host key across restarts, and an engine that is down.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, run, type TestUser } from '../helpers/env.js';
import { clientCfg, hostKeyLine, sleep, ssh, ssh2Connect, ssh2Exec, startServer, type ServerProc } from '../helpers/ssh.js';

const PORT = tp(32000);
const DOWN_PORT = tp(32001);

describe('dcm-server: authentication, exec and refusals', () => {
  const env = new TestEnv({ tag: 'sshauth', sshPorts: '31000-31049' });
  let server: ServerProc;
  let alice: TestUser;
  let bob: TestUser;
  let strayKey: string;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    bob = await env.addUser('bob');
    strayKey = join(env.stateDir, 'stray');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', strayKey]);
    server = await startServer(env, PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('OpenSSH: a registered key runs one command, text output, exit 0', async () => {
    const r = await ssh(alice.keyFile, PORT, 'alice', ['show']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no containers/);
    assert.equal(r.stderr, '');
  });

  test('OpenSSH: --json output parses; errors exit non-zero with one line on stderr', async () => {
    const j = await ssh(alice.keyFile, PORT, 'alice', ['images', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const list = JSON.parse(j.stdout) as { name: string; kind: string }[];
    assert.ok(list.some((i) => i.kind === 'base' && i.name === 'dcm/debian-base:bookworm'));
    const bad = await ssh(alice.keyFile, PORT, 'alice', ['bogus']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'dcm: unknown command: bogus (type "help" for the list)\n');
    // Quoting reaches the core as words, never a shell.
    const q = await ssh(alice.keyFile, PORT, 'alice', [`'show' "--json"; rm -rf /`]);
    assert.equal(q.code, 2);
    assert.equal(q.stdout, '');
    assert.equal(q.stderr, 'dcm: show: unknown option --json; (try "help show")\n');
  });

  test("wrong key, another user's key and an unknown user all get the same refusal", async () => {
    const wrong = await ssh(strayKey, PORT, 'alice', ['show']);
    const other = await ssh(bob.keyFile, PORT, 'alice', ['show']);
    const unknown = await ssh(alice.keyFile, PORT, 'carol', ['show']);
    for (const r of [wrong, other, unknown]) assert.equal(r.code, 255);
    const norm = (s: string) => s.replace(/alice|carol/g, 'U').trim();
    assert.equal(norm(wrong.stderr), 'U@127.0.0.1: Permission denied (publickey).');
    assert.equal(norm(other.stderr), norm(wrong.stderr));
    assert.equal(norm(unknown.stderr), norm(wrong.stderr));
    // ssh2's client sees the same answer too.
    const errs: string[] = [];
    for (const [user, key] of [
      ['alice', strayKey],
      ['alice', bob.keyFile],
      ['carol', alice.keyFile],
    ] as const) {
      await ssh2Connect(clientCfg(PORT, user, key)).then(
        (c) => (c.end(), errs.push('logged in!')),
        (e: Error & { level?: string }) => errs.push(`${e.level}: ${e.message}`),
      );
    }
    assert.equal(new Set(errs).size, 1, errs.join(' | '));
    assert.equal(errs[0], 'client-authentication: All configured authentication methods failed');
  });

  test('a user cannot act as another: the key decides, --user is no option', async () => {
    const me = await ssh(bob.keyFile, PORT, 'bob', ['whoami', '--json']);
    assert.equal(me.code, 0, me.stderr);
    assert.equal(JSON.parse(me.stdout).user, 'bob');
    const r = await ssh(alice.keyFile, PORT, 'alice', ['show', '--user', 'bob']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'dcm: show: unknown option --user (try "help show")\n');
    const env2 = await ssh(alice.keyFile, PORT, 'alice', ['whoami', '--json'], ['-o', 'SetEnv=SUDO_USER=bob USER=bob']);
    assert.equal(JSON.parse(env2.stdout).user, 'alice');
  });

  test('ssh2 client: exec with text and --json, exit codes', async () => {
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    try {
      const t = await ssh2Exec(c, 'help');
      assert.equal(t.code, 0);
      assert.match(t.stdout, /commands:/);
      const j = await ssh2Exec(c, 'show --json');
      assert.deepEqual(JSON.parse(j.stdout), []);
      const nf = await ssh2Exec(c, `stop ${tp(31049)}`);
      assert.equal(nf.code, 3);
      assert.equal(nf.stderr, `dcm: no such container: ${tp(31049)}\n`);
    } finally {
      c.end();
    }
  });

  test('forwarding, agent, X11, subsystems and env are refused; the connection stays usable', async () => {
    const fail = (f: (cb: (err: Error | undefined) => void) => void) =>
      new Promise<string>((resolve) => f((err) => resolve(err ? err.message : 'accepted')));
    // agentForward set on a connection makes every session ask for it first.
    const ca = await ssh2Connect(
      clientCfg(PORT, 'alice', alice.keyFile, { agent: join(env.stateDir, 'no-agent.sock'), agentForward: true }),
    );
    try {
      assert.equal(await fail((cb) => ca.shell((e, ch) => (ch?.close(), cb(e)))), 'Unable to request agent forwarding');
    } finally {
      ca.end();
    }
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    try {
      // -L and -D: direct-tcpip channels
      // ssh2 words a refused channel open with no description of its own.
      assert.equal(await fail((cb) => c.forwardOut('127.0.0.1', 40000, '127.0.0.1', PORT, (e) => cb(e))), '(SSH) Channel open failure: ');
      // -R: tcpip-forward global request
      assert.equal(await fail((cb) => c.forwardIn('127.0.0.1', 0, (e) => cb(e))), 'Unable to bind to 127.0.0.1:0');
      assert.equal(await fail((cb) => c.sftp((e) => cb(e))), 'Unable to start subsystem: sftp');
      assert.equal(await fail((cb) => c.subsys('netconf', (e) => cb(e))), 'Unable to start subsystem: netconf');
      assert.equal(await fail((cb) => c.exec('show', { x11: true }, (e, ch) => (ch?.close(), cb(e)))), 'Unable to request X11');
      const r = await ssh2Exec(c, 'show', { env: { LD_PRELOAD: '/tmp/x.so', NO_COLOR: '1' } });
      assert.equal(r.code, 0, 'a refused env request does not stop the command');
      await server.waitLog(/refused env LD_PRELOAD/);
      await server.waitLog(/refused X11 forwarding/);
      await server.waitLog(/refused agent forwarding/);
      await server.waitLog(/refused sftp subsystem/);
    } finally {
      c.end();
    }
    // OpenSSH: -W (stdio forwarding, like -L/-D) and -R with ExitOnForwardFailure.
    const w = await ssh(alice.keyFile, PORT, 'alice', [], ['-W', `127.0.0.1:${PORT}`]);
    assert.equal(w.code, 255);
    assert.match(w.stderr, /forwarding failed|open failed|prohibited/);
    const rr = await ssh(
      alice.keyFile,
      PORT,
      'alice',
      ['show'],
      ['-o', 'ExitOnForwardFailure=yes', '-R', `127.0.0.1:${tp(32050)}:127.0.0.1:22`],
    );
    assert.equal(rr.code, 255);
    assert.match(rr.stderr, /remote port forwarding failed/);
    await server.waitLog(/refused port forwarding/);
    await server.waitLog(/refused global request tcpip-forward/);
    // Still serving.
    assert.equal((await ssh(alice.keyFile, PORT, 'alice', ['show'])).code, 0);
  });

  test('policy changes apply without a restart; an invalid file is refused and the old one stays', async () => {
    const original = readFileSync(env.configFile, 'utf8');
    try {
      writeFileSync(env.configFile, original + '\ndefaults:\n  limits:\n    max_containers: 0\n');
      server.proc.kill('SIGHUP');
      await server.waitLog(/configuration reloaded/);
      const w = await ssh(alice.keyFile, PORT, 'alice', ['whoami', '--json']);
      assert.equal(JSON.parse(w.stdout).limits.maxContainers, 0);
      writeFileSync(env.configFile, original + '\nnot_a_key: 1\n');
      server.proc.kill('SIGHUP');
      await server.waitLog(/configuration not reloaded \(\w+\): .*not_a_key/);
      assert.equal(JSON.parse((await ssh(alice.keyFile, PORT, 'alice', ['whoami', '--json'])).stdout).limits.maxContainers, 0);
    } finally {
      // Wait for this reload's own log line (earlier reloads logged the same words), not for a fixed time.
      const reloads = () => (server.log().match(/configuration reloaded/g) ?? []).length;
      const seen = reloads();
      writeFileSync(env.configFile, original);
      server.proc.kill('SIGHUP');
      for (const until = Date.now() + 15_000; reloads() === seen && Date.now() < until; ) await sleep(20);
    }
    // Back to the file as it was: no max_containers, so the built-in 10.
    assert.equal(JSON.parse((await ssh(alice.keyFile, PORT, 'alice', ['whoami', '--json'])).stdout).limits.maxContainers, 10);
  });

  test('the host key is made once and kept across a restart; SIGTERM stops cleanly', async () => {
    const fp = /ED25519 (SHA256:\S+)/.exec(server.log())![1];
    assert.match(server.log(), /\(new\)/);
    const known = join(env.stateDir, 'known_hosts');
    writeFileSync(known, `[127.0.0.1]:${PORT} ${hostKeyLine(env)}\n`);
    const code = await server.stop();
    assert.equal(code, 0);
    assert.match(server.log(), /SIGTERM: shutting down[\s\S]*stopped/);
    server = await startServer(env, PORT);
    assert.equal(/ED25519 (SHA256:\S+)/.exec(server.log())![1], fp);
    assert.doesNotMatch(server.log(), /\(new\)/);
    const r = await ssh(alice.keyFile, PORT, 'alice', ['show'], ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${known}`]);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('dcm-server with the engine down', () => {
  const env = new TestEnv({ tag: 'sshdown', sshPorts: '31000-31049', extraYaml: 'engine:\n  socket: /nonexistent/docker.sock\n' });
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    alice = await env.addUser('alice');
    // A registered base image makes `images` ask the engine (there is none to register it from).
    const db = new Database(join(env.stateDir, 'dcm.db'));
    db.prepare("INSERT INTO images (ref, docker_id, owner, source) VALUES ('dcm/debian-base:bookworm', 'sha256:00', NULL, NULL)").run();
    db.close();
    server = await startServer(env, DOWN_PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('commands fail with "container engine unavailable" and the server keeps serving', async () => {
    assert.match(server.log(), /reconcile skipped: container engine unavailable/);
    for (let i = 0; i < 2; i++) {
      const r = await ssh(alice.keyFile, DOWN_PORT, 'alice', ['images']);
      assert.equal(r.code, 6);
      assert.equal(r.stderr, 'dcm: container engine unavailable\n');
    }
    const h = await ssh(alice.keyFile, DOWN_PORT, 'alice', ['help']);
    assert.equal(h.code, 0);
    assert.equal(server.proc.exitCode, null);
  });
});
