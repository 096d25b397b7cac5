/**
 * One user must not freeze dcm-server for the others: a bounded flood on
 * each input path (command prompt, create wizard, rm confirmation, exec
 * command, stdin without a terminal) gets one clear line, while another
 * user's `show` over OpenSSH stays fast, and SIGTERM still stops the server
 * at once. Exec commands of any length get "command too long". The prompt's
 * limit holds for the line readline holds, also when editing keys (Ctrl-U
 * after Ctrl-A, history recall, yank) build it rather than typing.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type ssh2 from 'ssh2';
import { TestEnv, type TestUser } from '../helpers/env.js';
import { KEY, Typist, clientCfg, sleep, ssh, ssh2Connect, ssh2Exec, startServer, type ServerProc } from '../helpers/ssh.js';

const PORT = tp(30400);
const STOP_PORT = tp(30401);
const PASTE = 'x'.repeat(100_000);
/** A generous bound for one `show` over SSH while someone floods (it takes ~0.2 s when idle). */
const FAST_MS = 4000;
const TOO_LONG = 'dcm: command too long (at most 8192 characters)\n';
const LINE_TOO_LONG = /^dcm: line too long \(max 4096 bytes\)$/gm;
const KEY_CTRL = { a: '\x01', k: '\x0b', u: '\x15', y: '\x19' };

/** How many times re matches in s. */
const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

/** Bob's `show` over OpenSSH, three times: each must succeed within FAST_MS. */
async function othersStayFast(bob: TestUser, port: number, what: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const r = await ssh(bob.keyFile, port, 'bob', ['show']);
    const took = Date.now() - t0;
    assert.equal(r.code, 0, `bob's show during the ${what} flood: exit ${r.code} after ${took} ms: ${r.stderr}`);
    assert.ok(took < FAST_MS, `bob's show during the ${what} flood took ${took} ms`);
  }
}

/** An interactive shell without a pty over ssh2, collecting what it prints. */
function plainShell(c: ssh2.Client): Promise<{ ch: ssh2.ClientChannel; out: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    c.shell(false, (err, ch) => {
      if (err) return reject(err);
      let out = '';
      ch.on('data', (d: Buffer) => (out += d));
      ch.stderr.on('data', (d: Buffer) => (out += d));
      const closed = new Promise<void>((r) => ch.on('close', () => r()));
      resolve({ ch, out: () => out, closed });
    });
  });
}

describe("dcm-server under one user's input flood", () => {
  const env = new TestEnv({ tag: 'flood', sshPorts: '30410-30439' });
  let server: ServerProc;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    bob = await env.addUser('bob');
    server = await startServer(env, PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  /**
   * An interactive session of alice over OpenSSH (-tt): `body` gets the terminal
   * and where the first prompt ended, and returns how far it read; the session
   * is then left with `exit`, which must end it cleanly. Killed whatever happens.
   */
  async function aliceSession(body: (t: Typist, at: number) => Promise<number>): Promise<void> {
    const t = Typist.ssh(alice.keyFile, PORT, 'alice');
    try {
      const at = await body(t, await t.expect(/alice@dcm> /));
      t.type('exit' + KEY.enter);
      await t.expect(/logout/, at);
      assert.equal(await t.exit, 0);
    } finally {
      t.kill();
    }
  }

  test('a 100 KB line at the command prompt: "line too long", the session goes on, others stay fast', async () => {
    await aliceSession(async (t, at) => {
      t.type(PASTE + KEY.enter);
      await sleep(200);
      await othersStayFast(bob, PORT, 'prompt');
      at = await t.expect(/dcm: line too long \(max 4096 bytes\)\n[\s\S]*alice@dcm> /, at);
      t.type('whoami' + KEY.enter);
      at = await t.expect(/\nuser +alice [\s\S]*alice@dcm> /, at);
      return at;
    });
  });

  test('4000 bytes, Ctrl-A, Ctrl-U, 25 times, then Enter: "line too long" once, no command over 4096 bytes runs, others stay fast', async () => {
    await aliceSession(async (t, at) => {
      const from = at;
      // Ctrl-U after Ctrl-A wipes nothing: the line readline holds keeps growing while each paste alone is under the limit.
      t.type(('A'.repeat(4000) + KEY_CTRL.a + KEY_CTRL.u).repeat(25) + KEY.enter);
      await sleep(200);
      await othersStayFast(bob, PORT, 'Ctrl-U');
      t.type('whoami' + KEY.enter);
      at = await t.expect(/\nuser +alice [\s\S]*alice@dcm> /, at);
      const seen = t.text().slice(from, at);
      assert.equal(count(seen, LINE_TOO_LONG), 1, 'one "line too long"');
      assert.doesNotMatch(seen, /unknown command/, 'the over-long line never reached the command core');
      return at;
    });
  });

  test('a 4000-byte line, then up-arrow + 4000 bytes + Enter 25 times: "line too long" each time, only the first line runs, others stay fast', async () => {
    await aliceSession(async (t, at) => {
      t.type('A'.repeat(4000) + KEY.enter);
      // Within the limit: it runs (an unknown command) and enters history.
      at = await t.expect(/dcm: unknown command: A{40}…[\s\S]*alice@dcm> /, at);
      const from = at;
      t.type((KEY.up + 'A'.repeat(4000) + KEY.enter).repeat(25));
      await sleep(200);
      await othersStayFast(bob, PORT, 'history recall');
      t.type('whoami' + KEY.enter);
      at = await t.expect(/\nuser +alice [\s\S]*alice@dcm> /, at);
      const seen = t.text().slice(from, at);
      assert.equal(count(seen, LINE_TOO_LONG), 25, '"line too long" for each recalled and grown line');
      assert.doesNotMatch(seen, /unknown command/, 'no grown line reached the command core');
      // History kept only the lines that ran: whoami, then the 4000 bytes, not more.
      t.type(KEY.up + KEY.up + KEY.enter);
      at = await t.expect(/dcm: unknown command: A{40}…[\s\S]*alice@dcm> /, at);
      return at;
    });
  });

  test('a line doubled with Ctrl-A Ctrl-K Ctrl-Y Ctrl-Y: "line too long" once, nothing runs, the kill ring forgets it', async () => {
    await aliceSession(async (t, at) => {
      const from = at;
      // Four keys double the line: 2000 bytes become 512 KB after 8 rounds if only typed bytes count.
      t.type('A'.repeat(2000) + (KEY_CTRL.a + KEY_CTRL.k + KEY_CTRL.y + KEY_CTRL.y).repeat(8) + KEY.enter);
      at = await t.expect(/dcm: (line too long|unknown command)[^\n]*\n[\s\S]*alice@dcm> /, at);
      // A yank on the new line brings nothing back.
      t.type(KEY_CTRL.y + KEY.enter + 'whoami' + KEY.enter);
      at = await t.expect(/\nuser +alice [\s\S]*alice@dcm> /, at);
      const seen = t.text().slice(from, at);
      assert.equal(count(seen, LINE_TOO_LONG), 1, 'one "line too long"');
      assert.doesNotMatch(seen, /unknown command/, 'the doubled line never reached the command core');
      return at;
    });
  });

  test('Ctrl-Y in a wizard question pastes nothing: the answer cannot double past its budget', async () => {
    await aliceSession(async (t, at) => {
      t.type('create' + KEY.enter);
      at = await t.expect(/Image[\s\S]*dcm\/debian-base:bookworm/, at);
      t.type(KEY.enter);
      at = await t.expect(/Extra ports/, at);
      // 20 + 32 bytes typed, well within 256; with yank, 20 × 2^8 bytes on the screen.
      t.type('1'.repeat(20) + (KEY_CTRL.a + KEY_CTRL.k + KEY_CTRL.y + KEY_CTRL.y).repeat(8) + '2');
      await t.expect(/2/, at);
      await sleep(300);
      t.type(KEY.ctrlC);
      at = await t.expect(/cancelled\n[\s\S]*alice@dcm> /, at);
      assert.doesNotMatch(t.text(), /1{21}/, 'no yanked copy of the answer');
      return at;
    });
    assert.deepEqual(await env.dcmJson('alice', 'show'), [], 'nothing was created');
  });

  test('100 KB pasted into the create wizard: the wizard stops with "line too long", others stay fast', async () => {
    await aliceSession(async (t, at) => {
      t.type('create' + KEY.enter);
      at = await t.expect(/Image[\s\S]*dcm\/debian-base:bookworm/, at);
      t.type(KEY.enter);
      at = await t.expect(/Extra ports/, at);
      t.type(PASTE + KEY.enter);
      await sleep(200);
      await othersStayFast(bob, PORT, 'wizard');
      at = await t.expect(/dcm: line too long \(max 256 bytes\)\n[\s\S]*alice@dcm> /, at);
      assert.doesNotMatch(t.text().slice(at), /running: create/);
      return at;
    });
    assert.deepEqual(await env.dcmJson('alice', 'show'), [], 'nothing was created');
  });

  test('100 KB pasted into the rm confirmation: refused with "line too long", nothing removed, others stay fast', async () => {
    await aliceSession(async (t, at) => {
      t.type('rm ghost' + KEY.enter);
      at = await t.expect(/Remove container ghost/, at);
      t.type(PASTE + KEY.enter);
      await sleep(200);
      await othersStayFast(bob, PORT, 'confirmation');
      at = await t.expect(/dcm: line too long \(max 256 bytes\)\n[\s\S]*alice@dcm> /, at);
      assert.doesNotMatch(t.text().slice(at), /kept|removed|not found/);
      return at;
    });
  });

  test('1 MB of over-long lines on a shell without a terminal: one line each, then the next command runs', async () => {
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    try {
      const sh = await plainShell(c);
      const long = 'y'.repeat(64 * 1024) + '\n';
      sh.ch.write(long.repeat(16) + 'whoami\nexit\n');
      await sleep(200);
      await othersStayFast(bob, PORT, 'stdin');
      await sh.closed;
      const lines = sh.out().split('\n').filter(Boolean);
      assert.deepEqual(lines.slice(0, 17), [...Array(16).fill('dcm: line too long (max 4096 bytes)'), lines[16]]);
      assert.match(lines[16]!, /^user +alice /);
    } finally {
      c.end();
    }
  });

  test('1 MB on the stdin of an exec: the command runs as usual, others stay fast', async () => {
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    try {
      const r = await new Promise<{ code: number; stdout: string }>((resolve, reject) => {
        c.exec('whoami', (err, ch) => {
          if (err) return reject(err);
          let stdout = '';
          let code = -1;
          ch.on('data', (d: Buffer) => (stdout += d));
          ch.stderr.on('data', () => undefined);
          ch.on('exit', (x: number) => (code = x));
          ch.on('close', () => resolve({ code, stdout }));
          ch.write(Buffer.alloc(1 << 20, 0x7a));
        });
      });
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^user +alice /);
      await othersStayFast(bob, PORT, 'exec stdin');
    } finally {
      c.end();
    }
  });

  test('exec commands of 20 KB to 200 KB: "command too long", exit 2, with OpenSSH and ssh2; others stay fast', async () => {
    for (const n of [20_000, 34_000, 40_000, 200_000]) {
      // One argument may be at most 128 KiB; ssh joins its arguments with spaces.
      const words = Array.from({ length: Math.ceil(n / 50_000) }, (_, i) => 'z'.repeat(Math.min(50_000, n - i * 50_000) - 1));
      const o = await ssh(alice.keyFile, PORT, 'alice', words);
      assert.equal(o.stderr, TOO_LONG, `OpenSSH, ${n} bytes`);
      assert.equal(o.code, 2, `OpenSSH, ${n} bytes`);
      const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
      try {
        const r = await ssh2Exec(c, 'z'.repeat(n));
        assert.deepEqual(
          { code: r.code, stderr: r.stderr, stdout: r.stdout },
          { code: 2, stderr: TOO_LONG, stdout: '' },
          `ssh2, ${n} bytes`,
        );
      } finally {
        c.end();
      }
    }
    // Five at once, 1 MB each.
    const floods = Array.from({ length: 5 }, async () => {
      const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
      try {
        return await ssh2Exec(c, 'z'.repeat(1 << 20));
      } finally {
        c.end();
      }
    });
    await othersStayFast(bob, PORT, 'exec command');
    for (const r of await Promise.all(floods)) assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: 2, stderr: TOO_LONG });
    assert.equal(server.proc.exitCode, null);
  });
});

describe('dcm-server stops at SIGTERM during a flood', () => {
  const env = new TestEnv({ tag: 'floodstop', sshPorts: '30440-30449' });
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    server = await startServer(env, STOP_PORT);
  });
  after(async () => {
    await server?.stop('SIGKILL');
    await env.cleanup();
  });

  test('1 MB pasted into the wizard, then SIGTERM: the server is gone within 3 s, exit 0', async () => {
    const t = Typist.ssh(alice.keyFile, STOP_PORT, 'alice');
    try {
      let at = await t.expect(/alice@dcm> /);
      t.type('create' + KEY.enter);
      at = await t.expect(/Image[\s\S]*dcm\/debian-base:bookworm/, at);
      t.type(KEY.enter);
      at = await t.expect(/Extra ports/, at);
      t.type('x'.repeat(1 << 20));
      await sleep(500);
      const t0 = Date.now();
      const exited = new Promise<number | null>((r) => server.proc.once('exit', (code) => r(code)));
      server.proc.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(3000).then(() => 'still running' as const)]);
      assert.equal(code, 0, `after SIGTERM: ${code} (${Date.now() - t0} ms)`);
      assert.match(server.log(), /SIGTERM: shutting down[\s\S]*stopped/);
    } finally {
      t.kill();
    }
  });
});
