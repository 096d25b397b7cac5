/**
 * The SSH protocol as dcm-server answers it, in one process (no Docker): the
 * real server on a loopback port with the fake engine and a real SQLite
 * store, driven by ssh2's client. Each test checks what the client saw and,
 * through the callback ledger, exactly which server callbacks ran and how
 * they answered: every expected one, and no other.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ssh2 from 'ssh2';
import { clientExec, rawChannelRequest, startInProcessServer, type InProcessServer } from '../helpers/in-process-server.js';

/** How a login with a good key goes: "none" is refused, the key is offered (asked about), then signed. */
const LOGIN = ['auth none:reject', 'auth publickey:accept', 'auth publickey:accept', 'ready'];

describe('SSH protocol, in process', () => {
  let h: InProcessServer;
  before(async () => {
    h = await startInProcessServer();
    h.addUser('alice');
  });
  after(async () => {
    await h?.stop();
  });

  /** One connection as alice, its ledger scope, and a way to close it and wait until the server saw it close. */
  async function session(extra: Partial<ssh2.ConnectConfig> = {}) {
    const c = await h.connect('alice', extra);
    // Tests run one at a time, each with its own connection: the server's newest is this one.
    const scope = h.ledger.lastConnection;
    const end = async () => {
      c.end();
      await h.ledger.waitFor(scope, 'close');
    };
    return { c, scope, s1: `${scope}.session1`, s2: `${scope}.session2`, end };
  }

  test("an exec runs once and its exit status is the command's: the only callbacks are session, exec, exit-status", async () => {
    const { c, scope, s1, end } = await session();
    const r = await clientExec(c, 'start 99999');
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'dcm: no such container: 99999\n');
    assert.deepEqual(r.events, ['exit 3', 'close']);
    await end();
    h.ledger.assertCalls(scope, [...LOGIN, 'session:accept', 'close']);
    h.ledger.assertCalls(s1, ['exec:accept', 'exit-status 3', 'close']);
  });

  test('exec with a pty: every line ends in CR LF; without one, in LF alone', async () => {
    const { c, s1, s2, end } = await session();
    const plain = await clientExec(c, 'help');
    const tty = await clientExec(c, 'help', { pty: { term: 'dumb', cols: 80, rows: 24 } });
    await end();
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(tty.code, 0, tty.stderr);
    assert.ok(plain.stdout.split('\n').length > 5, plain.stdout);
    assert.doesNotMatch(plain.stdout, /\r/);
    assert.equal(tty.stdout, plain.stdout.replaceAll('\n', '\r\n'));
    h.ledger.assertCalls(s1, ['exec:accept', 'exit-status 0', 'close']);
    h.ledger.assertCalls(s2, ['pty:accept', 'exec:accept', 'exit-status 0', 'close']);
  });

  test('env requests are refused (and logged); the command still runs without them', async () => {
    const { c, s1, end } = await session();
    const r = await clientExec(c, 'whoami --json', { env: { LD_PRELOAD: '/tmp/x.so', DCM_STATE_DIR: '/tmp' } });
    await end();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).user, 'alice');
    h.ledger.assertCalls(s1, ['env LD_PRELOAD:reject', 'env DCM_STATE_DIR:reject', 'exec:accept', 'exit-status 0', 'close']);
    assert.ok(h.log.includes('127.0.0.1 alice: alice: refused env LD_PRELOAD'), h.log.join('\n'));
  });

  test('X11 forwarding is refused: the client is told, and no command runs', async () => {
    const { c, s1, end } = await session();
    const r = await clientExec(c, 'whoami', { x11: true });
    await end();
    assert.equal(r.refused, 'Unable to request X11');
    h.ledger.assertCalls(s1, ['x11:reject', 'close']);
  });

  test('agent forwarding is refused: the client is told, and no command runs', async () => {
    // The client only asks for forwarding when it has an agent; this one is never reached.
    const { c, s1, end } = await session({ agent: '/nonexistent/agent.sock', agentForward: true });
    const r = await clientExec(c, 'whoami');
    await end();
    assert.equal(r.refused, 'Unable to request agent forwarding');
    h.ledger.assertCalls(s1, ['auth-agent:reject', 'close']);
  });

  test('sftp and other subsystems are refused', async () => {
    const { c, s1, s2, end } = await session();
    const sftp = await new Promise<Error | undefined>((r) => c.sftp((err) => r(err)));
    const sub = await new Promise<Error | undefined>((r) => c.subsys('backup', (err) => r(err)));
    await end();
    assert.equal(sftp?.message, 'Unable to start subsystem: sftp');
    assert.equal(sub?.message, 'Unable to start subsystem: backup');
    // The refused channels stay open until the connection ends, which closes them without a callback.
    h.ledger.assertCalls(s1, ['sftp:reject']);
    h.ledger.assertCalls(s2, ['subsystem backup:reject']);
  });

  test('port forwarding, local and remote, is refused at the connection', async () => {
    const { c, scope, end } = await session();
    const local = await new Promise<Error | undefined>((r) => c.forwardOut('127.0.0.1', 1, '127.0.0.1', 22, (err) => r(err)));
    const remote = await new Promise<Error | undefined>((r) => c.forwardIn('127.0.0.1', 0, (err) => r(err)));
    await end();
    assert.equal(local?.message, '(SSH) Channel open failure: ');
    assert.equal(remote?.message, 'Unable to bind to 127.0.0.1:0');
    h.ledger.assertCalls(scope, [...LOGIN, 'tcpip:reject', 'request:reject', 'close']);
  });

  test('a signal to a running shell is refused; the shell carries on and ends with status 0', async () => {
    const { c, s1, end } = await session();
    const out = await new Promise<{ text: string; code: number | undefined }>((resolve, reject) => {
      c.shell(false, (err, ch) => {
        if (err) return reject(err);
        let text = '';
        let code: number | undefined;
        ch.on('data', (d: Buffer) => (text += d));
        ch.on('exit', (n: number) => (code = n));
        ch.on('close', () => resolve({ text, code }));
        ch.signal('INT');
        ch.end('whoami --json\n');
      });
    });
    await end();
    assert.equal(out.code, 0);
    assert.equal(JSON.parse(out.text).user, 'alice');
    h.ledger.assertCalls(s1, ['shell:accept', 'signal:reject', 'exit-status 0', 'close']);
    assert.ok(h.log.includes('127.0.0.1 alice: alice: refused signal'), h.log.join('\n'));
  });

  test('a second exec or a pty on a session whose command runs is refused; the first command finishes alone', async () => {
    // Hold the engine inside `images` so the first command is still running when the others arrive.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const listImages = h.engine.listImages.bind(h.engine);
    h.engine.listImages = async (labels) => {
      await held;
      return listImages(labels);
    };
    try {
      const { c, s1, end } = await session();
      const r = await new Promise<{ stdout: string; events: string[] }>((resolve, reject) => {
        c.exec('images', (err, ch) => {
          if (err) return reject(err);
          let stdout = '';
          const events: string[] = [];
          ch.on('data', (d: Buffer) => (stdout += d));
          ch.on('exit', (n: number) => events.push(`exit ${n}`));
          ch.on('close', () => {
            events.push('close');
            resolve({ stdout, events });
          });
          rawChannelRequest(ch, 'exec', 'rm -f 1');
          rawChannelRequest(ch, 'pty');
          void h.ledger.waitFor(s1, 'pty').then(release, reject);
        });
      });
      await end();
      assert.deepEqual(r.events, ['exit 0', 'close']);
      assert.match(r.stdout, /dcm\/debian-base:bookworm/);
      h.ledger.assertCalls(s1, ['exec:accept', 'exec:reject', 'pty:reject', 'exit-status 0', 'close']);
    } finally {
      release();
      h.engine.listImages = listImages;
    }
  });

  test('an unknown key gets no session: refused at authentication, nothing after', async () => {
    const stranger = ssh2.utils.generateKeyPairSync('ed25519');
    const refused = await h.connect('alice', { privateKey: stranger.private }).then(
      () => 'logged in',
      (e: Error) => e.message,
    );
    assert.equal(refused, 'All configured authentication methods failed');
    const scope = h.ledger.lastConnection;
    await h.ledger.waitFor(scope, 'close');
    h.ledger.assertCalls(scope, ['auth none:reject', 'auth publickey:reject', 'close']);
  });
});
