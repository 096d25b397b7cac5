/**
 * Exhaustion by one user, each with a bounded attack: connections that never
 * log in (per address and in total), a session slot given back while its
 * command still runs, and `logs` of a container that wrote tens of
 * megabytes. Also the dual-stack listener: IPv4 clients of an IPv6 socket are
 * counted, banned and timed under one address form.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { TestEnv, run, sshInto, type TestUser } from '../helpers/env.js';
import { clientCfg, sleep, ssh, ssh2Connect, ssh2Exec, startServer, type ServerProc } from '../helpers/ssh.js';

const CAPS_PORT = tp(30402);
const SLOTS_PORT = tp(30403);
const DUAL_PORT = tp(30404);
const LOGS_PORT = tp(30405);

/** A TCP connection from `from` that reads the banner and then says nothing. */
function silent(port: number, from: string): Promise<{ sock: Socket; banner: Promise<boolean>; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = connect({ port, host: '127.0.0.1', localAddress: from });
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - t0)));
    const banner = new Promise<boolean>((r) => {
      sock.once('data', () => r(true));
      sock.once('close', () => r(false));
    });
    sock.once('connect', () => resolve({ sock, banner, closed }));
    sock.once('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

describe('dcm-server: connections that do not log in are capped', () => {
  const env = new TestEnv({
    tag: 'precap',
    sshPorts: '30450-30459',
    extraYaml: 'server:\n  max_startups: 4\n  max_startups_per_address: 2\n  login_grace: 20\n',
  });
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    alice = await env.addUser('alice');
    server = await startServer(env, CAPS_PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('one address: the connection over max_startups_per_address is closed at once; others still log in', async () => {
    const held = [await silent(CAPS_PORT, '127.0.0.5'), await silent(CAPS_PORT, '127.0.0.5')];
    try {
      for (const h of held) assert.equal(await h.banner, true);
      const extra = await silent(CAPS_PORT, '127.0.0.5');
      assert.equal(await extra.banner, false, 'the extra connection got a banner');
      assert.ok((await extra.closed) < 1000, 'closed at once');
      await server.waitLog(/127\.0\.0\.5: refused: 2 connections from this address have not logged in yet \(max_startups_per_address\)/);
      const r = await ssh(alice.keyFile, CAPS_PORT, 'alice', ['whoami']);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      for (const h of held) h.sock.destroy();
    }
  });

  test('all addresses: the connection over max_startups is closed at once; logins work again when they go', async () => {
    const held: Awaited<ReturnType<typeof silent>>[] = [];
    try {
      for (const from of ['127.0.0.6', '127.0.0.6', '127.0.0.7', '127.0.0.7']) held.push(await silent(CAPS_PORT, from));
      for (const h of held) assert.equal(await h.banner, true);
      const extra = await silent(CAPS_PORT, '127.0.0.8');
      assert.equal(await extra.banner, false, 'the extra connection got a banner');
      assert.ok((await extra.closed) < 1000, 'closed at once');
    } finally {
      for (const h of held) h.sock.destroy();
    }
    await Promise.all(held.map((h) => h.closed));
    await sleep(200);
    const r = await ssh(alice.keyFile, CAPS_PORT, 'alice', ['whoami']);
    assert.equal(r.code, 0, r.stderr);
    // A logged-in connection no longer counts: more than the cap may be logged in at once.
    const conns: ssh2.Client[] = [];
    try {
      for (let i = 0; i < 6; i++) conns.push(await ssh2Connect(clientCfg(CAPS_PORT, 'alice', alice.keyFile)));
    } finally {
      for (const c of conns) c.end();
    }
  });
});

describe('dcm-server: session slots', () => {
  const env = new TestEnv({ tag: 'slots', sshPorts: '30460-30479', extraYaml: 'server:\n  max_sessions_per_user: 1\n' });
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    server = await startServer(env, SLOTS_PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('a session slot stays taken until its command ends, even when the client hung up', async () => {
    const other = await ssh2Connect(clientCfg(SLOTS_PORT, 'alice', alice.keyFile));
    try {
      const c = await ssh2Connect(clientCfg(SLOTS_PORT, 'alice', alice.keyFile));
      await new Promise<void>((resolve, reject) => c.exec('create --name slow', (err) => (err ? reject(err) : resolve())));
      await sleep(200);
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.end();
      await closed;
      await sleep(200);
      const during = await ssh2Exec(other, 'show');
      assert.equal(during.code, 5, `a second session while create still runs: ${during.stdout}${during.stderr}`);
      assert.equal(during.stderr, 'dcm: too many open sessions for alice (limit 1): close one and try again\n');
      // The create finishes on its own; then the slot is free again.
      const end = Date.now() + 120_000;
      let after: Awaited<ReturnType<typeof ssh2Exec>>;
      for (;;) {
        after = await ssh2Exec(other, 'show --json');
        if (after.code === 0 || Date.now() > end) break;
        await sleep(250);
      }
      assert.equal(after.code, 0, after.stderr);
      assert.deepEqual(
        (JSON.parse(after.stdout) as { name: string; state: string }[]).map((x) => [x.name, x.state]),
        [['slow', 'running']],
      );
    } finally {
      other.end();
    }
  });
});

describe('dcm-server: logs', () => {
  const env = new TestEnv({ tag: 'logcap', sshPorts: '30490-30499' });
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    server = await startServer(env, LOGS_PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('logs of a container that wrote 24 MB returns at most the last 1 MiB, starting on a whole line', async () => {
    const c = await env.dcmJson<{ id: string; sshPort: number }>('alice', 'create', '--name', 'noisy');
    // Root in the container writes 8000 lines of 3000 bytes to the container's log (PID 1's stdout).
    const w = await sshInto(
      alice.keyFile,
      'root',
      '127.0.0.1',
      c.sshPort,
      'awk \'BEGIN { s = sprintf("%3000s", ""); gsub(/ /, "x", s); for (i = 0; i < 8000; i++) print i " " s }\' > /proc/1/fd/1; echo done',
    );
    assert.equal(w.stdout.trim(), 'done', w.stderr);
    const r = await ssh(alice.keyFile, LOGS_PORT, 'alice', ['logs', '-n', '10000', 'noisy']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length <= 1024 * 1024 + 200, `logs printed ${r.stdout.length} bytes`);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '[dcm: earlier lines left out: logs shows at most the last 1 MiB]');
    assert.match(lines[1]!, /^\d+ x{3000}$/, 'the kept part starts on a whole line');
    assert.match(r.stdout, /\n7999 x{3000}\n/, 'the newest line is there');
    const j = await ssh(alice.keyFile, LOGS_PORT, 'alice', ['logs', '-n', '5', 'noisy', '--json']);
    assert.equal((JSON.parse(j.stdout) as { lines: string[] }).lines.length, 5, 'a short tail is untouched');
  });
});

describe('dcm-server on a dual-stack listener', () => {
  const env = new TestEnv({
    tag: 'dual',
    sshPorts: '30480-30489',
    extraYaml: 'server:\n  login_grace: 2\n  max_auth_failures: 3\n  ban_time: 60\n',
  });
  let server: ServerProc;
  let alice: TestUser;
  let stray: string;

  before(async () => {
    alice = await env.addUser('alice');
    stray = join(env.stateDir, 'stray');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stray]);
    // An IPv6 socket that takes IPv4 clients, as one on [::] does, but only on loopback.
    server = await startServer(env, DUAL_PORT, {}, `[::ffff:127.0.0.1]:${DUAL_PORT}`);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('an IPv4 session logged in through it outlives login_grace', async () => {
    const c = await ssh2Connect(clientCfg(DUAL_PORT, 'alice', alice.keyFile));
    try {
      const closed = new Promise<string>((r) => c.once('close', () => r('closed')));
      const waited = await Promise.race([closed, sleep(3500).then(() => 'open')]);
      assert.equal(waited, 'open', 'the session was closed after the login grace');
      const r = await ssh2Exec(c, 'whoami');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^user +alice /);
    } finally {
      c.end();
    }
    const clientLines = server
      .log()
      .split('\n')
      .filter((l) => !/listening on/.test(l));
    assert.doesNotMatch(clientLines.join('\n'), /::ffff:/, 'the log names IPv4 clients in IPv4 form');
  });

  test('IPv4 failures lead to a ban of that address, logged as a.b.c.d', async () => {
    const from = '127.0.0.9';
    for (let i = 0; i < 3; i++) {
      await ssh2Connect(clientCfg(DUAL_PORT, 'alice', stray, { localAddress: from })).then(
        (c) => (c.end(), assert.fail('logged in with a stray key')),
        () => undefined,
      );
    }
    await server.waitLog(/127\.0\.0\.9: too many failed logins: address refused for a while/);
    const e = await ssh2Connect(clientCfg(DUAL_PORT, 'alice', alice.keyFile, { localAddress: from })).then(
      (c) => (c.end(), null),
      (err: Error) => err,
    );
    assert.ok(e, 'the banned address still got in');
    const r = await ssh(alice.keyFile, DUAL_PORT, 'alice', ['whoami']);
    assert.equal(r.code, 0, 'another address is not banned');
  });
});
