/**
 * dcm-server's guards, with short limits: login grace, idle timeout, the
 * per-user session limit and per-address throttling of failed logins.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import Database from 'better-sqlite3';
import { TestEnv, run, type TestUser } from '../helpers/env.js';
import { clientCfg, ssh2Connect, ssh2Exec, startServer, type ServerProc } from '../helpers/ssh.js';

const PORT = tp(32002);

describe('dcm-server limits', () => {
  const env = new TestEnv({
    tag: 'sshlim',
    sshPorts: '31050-31099',
    extraYaml: 'server:\n  login_grace: 2\n  idle_timeout: 2\n  max_sessions_per_user: 2\n  max_auth_failures: 3\n  ban_time: 60\n',
  });
  let server: ServerProc;
  let alice: TestUser;
  let stray: string;

  before(async () => {
    alice = await env.addUser('alice');
    stray = join(env.stateDir, 'stray');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stray]);
    server = await startServer(env, PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('a connection that does not log in is closed after the login grace time', async () => {
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      const s = connect(PORT, '127.0.0.1');
      s.on('data', () => undefined); // read the banner, then say nothing
      s.on('close', () => resolve());
      s.on('error', reject);
      setTimeout(() => reject(new Error('still open after 8s')), 8000).unref();
    });
    const took = Date.now() - t0;
    assert.ok(took >= 1500 && took < 6000, `closed after ${took} ms`);
  });

  test('login grace: one timer, one log line; a client that stays silent is closed, not counted as a failed login', async () => {
    const from = '127.0.0.7';
    // Three clients that send their version line (so the SSH layer takes them) and then nothing.
    const silent = () =>
      new Promise<number>((resolve, reject) => {
        const s = connect({ port: PORT, host: '127.0.0.1', localAddress: from });
        let port = 0;
        s.on('connect', () => {
          port = s.localPort ?? 0;
          s.write('SSH-2.0-silent\r\n');
        });
        s.on('data', () => undefined);
        s.on('close', () => resolve(port));
        s.on('error', reject);
        setTimeout(() => reject(new Error('still open after 8s')), 8000).unref();
      });
    const ports = await Promise.all([silent(), silent(), silent()]);
    for (const p of ports) {
      const lines = server
        .log()
        .split('\n')
        .filter((l) => l.includes('no login within') && l.includes(`${from}:${p}`));
      assert.deepEqual(
        lines.map((l) => l.replace(/^.*?(127\.0\.0\.7)/, '$1')),
        [`${from}:${p}: no login within 2s`],
      );
    }
    assert.equal(
      server
        .log()
        .split('\n')
        .filter((l) => /127\.0\.0\.7: no login within/.test(l)).length,
      0,
      'no second timer logs the same expiry',
    );
    // Three (max_auth_failures) silent clients did not get the address banned: it logs in.
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile, { localAddress: from }));
    assert.equal((await ssh2Exec(c, 'show')).code, 0);
    c.end();
    assert.doesNotMatch(server.log(), /127\.0\.0\.7: too many failed logins/);
  });

  test('an idle interactive session is closed after idle_timeout', async () => {
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      c.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, ch) => {
        if (err) return reject(err);
        ch.on('data', () => undefined);
        ch.on('close', () => resolve());
      });
      setTimeout(() => reject(new Error('not closed after 8s')), 8000).unref();
    });
    c.end();
    const took = Date.now() - t0;
    assert.ok(took >= 1500 && took < 6000, `closed after ${took} ms`);
    await server.waitLog(/idle for 2s: closing/);
  });

  test('a user gets at most max_sessions_per_user sessions at once', async () => {
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    const shells: ssh2.ClientChannel[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        shells.push(
          await new Promise((res, rej) => c.shell({ term: 'dumb' }, (e, ch) => (e ? rej(e) : (ch.on('data', () => undefined), res(ch))))),
        );
      }
      const over = await ssh2Exec(c, 'show');
      const refusal = 'dcm: too many open sessions for alice (limit 2): close one and try again\n';
      assert.equal(over.code, 5);
      assert.equal(over.stderr, refusal);
      // A second connection counts against the same user.
      const c2 = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
      const over2 = await ssh2Exec(c2, 'show');
      assert.equal(over2.code, 5);
      assert.equal(over2.stderr, refusal);
      c2.end();
      await new Promise<void>((r) => (shells[0]!.once('close', () => r()), shells[0]!.end('exit\n')));
      const ok = await ssh2Exec(c, 'show');
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      c.end();
    }
  });

  test('after repeated failures an address is refused, others are not', async () => {
    const from = '127.0.0.9';
    for (let i = 0; i < 3; i++) {
      await ssh2Connect(clientCfg(PORT, 'alice', stray, { localAddress: from })).then(
        (c) => (c.end(), assert.fail('logged in with a stray key')),
        () => undefined,
      );
    }
    // The ban starts with this line (the third failure, counted when its connection closes).
    await server.waitLog(/127\.0\.0\.9: too many failed logins/);
    // Now even the right key is refused from that address, before any handshake.
    const e = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile, { localAddress: from })).then(
      (c) => (c.end(), 'logged in'),
      (err: Error & { level?: string }) => `${err.level}: ${err.message}`,
    );
    // The server closes the socket unread: the client sees it end, or reset if its version line was still unread.
    assert.match(e, /^(protocol: Connection lost before handshake|client-socket: read ECONNRESET)$/);
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    assert.equal((await ssh2Exec(c, 'show')).code, 0);
    c.end();
  });

  test('a database error during login costs that login, not the server', async () => {
    const from = '127.0.0.8';
    const db = new Database(join(env.stateDir, 'dcm.db'));
    try {
      db.exec('ALTER TABLE user_keys RENAME TO user_keys_away');
      const e = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile, { localAddress: from })).then(
        (c) => (c.end(), null),
        (err: Error) => err,
      );
      assert.equal(String(e), 'Error: All configured authentication methods failed');
      await server.waitLog(/key check failed: .*user_keys/);
    } finally {
      db.exec('ALTER TABLE user_keys_away RENAME TO user_keys');
      db.close();
    }
    assert.equal(server.proc.exitCode, null, 'server still running');
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile, { localAddress: from }));
    assert.equal((await ssh2Exec(c, 'show')).code, 0);
    c.end();
  });
});
