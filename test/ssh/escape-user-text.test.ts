/**
 * Text a client chooses (env and subsystem names, command words, the target
 * of an rm confirmation) never reaches the server log or a terminal raw:
 * control characters and escape sequences are shown escaped, so they can
 * neither drive the admin's or user's terminal nor forge a log line.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, type TestUser } from '../helpers/env.js';
import { KEY, Typist, clientCfg, ssh2Connect, ssh2Exec, startServer, type ServerProc } from '../helpers/ssh.js';
import { clip, printable } from '../../src/names.js';

const PORT = tp(30640);

// biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for raw control characters
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

describe('user text is escaped in the server log and on the terminal', () => {
  const env = new TestEnv({ tag: 'sshesc', sshPorts: '30650-30659' });
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    alice = await env.addUser('alice');
    server = await startServer(env, PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('env and subsystem names carrying ESC sequences and newlines are logged escaped, on one line', async () => {
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    try {
      const r = await ssh2Exec(c, 'whoami', { env: { 'E\x1b[31m\nFORGED-ENV': 'v' } });
      assert.equal(r.code, 0, r.stderr);
      await new Promise<void>((resolve) => {
        c.subsys('s\x1b]0;title\x07\nFORGED-SUB', (err, ch) => {
          if (err) return resolve();
          ch.on('close', () => resolve());
          ch.end();
        });
      });
    } finally {
      c.end();
    }
    await server.waitLog(/refused subsystem/);
    const log = server.log();
    assert.match(log, /alice: refused env E\\x1b\[31m\\nFORGED-ENV\n/);
    assert.match(log, /alice: refused subsystem s\\x1b\]0;title\\x07\\nFORGED-SUB\n/);
    assert.ok(!RAW_CONTROL.test(log), `raw control characters in the log:\n${JSON.stringify(log)}`);
    assert.ok(!/^FORGED/m.test(log), 'no client text starts a log line of its own');
  });

  test('"help" and an unknown command show the words escaped on the terminal', async () => {
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    try {
      const h = await ssh2Exec(c, "help 'x\x1b[2Jy\nz'");
      assert.equal(h.code, 0, h.stderr);
      assert.equal(h.stdout, 'no such command: x\\x1b[2Jy\\nz\n');
      const u = await ssh2Exec(c, "'\x1b]0;owned\x07'");
      assert.equal(u.code, 2);
      assert.equal(u.stderr, 'dcm: unknown command: \\x1b]0;owned\\x07 (type "help" for the list)\n');
    } finally {
      c.end();
    }
  });

  test('the rm confirmation shows the typed target escaped', async () => {
    const t = Typist.ssh(alice.keyFile, PORT, 'alice');
    try {
      let at = await t.expect(/alice@dcm> /);
      // U+009B is a one-character CSI for terminals that honour C1 controls: typed, it reaches the shell as U+FFFD.
      t.type('rm a\u009b2Jb' + KEY.enter);
      at = await t.expect(/Remove container a\ufffd2Jb \(your storage is kept\)\?/, at);
      assert.ok(!t.raw().includes('\u009b2Jb (your'), 'the raw control is not echoed in the question');
      t.type('n' + KEY.enter);
      await t.expect(/kept[\s\S]*alice@dcm> /, at);
    } finally {
      t.kill();
    }
  });

  test('printable() and clip(): every C0/C1 control, DEL and bidi override escaped; letters kept; idempotent', () => {
    assert.equal(printable('a\x1b[31mb\nc\r\t\x00\x7f\x9b\u202e\u2028é'), 'a\\x1b[31mb\\nc\\r\\t\\x00\\x7f\\x9b\\u202e\\u2028é');
    assert.equal(printable(printable('\x1b\n')), '\\x1b\\n');
    assert.equal(clip('\x1b[2J'), '\\x1b[2J');
    assert.equal(clip('é'), '?');
  });
});
