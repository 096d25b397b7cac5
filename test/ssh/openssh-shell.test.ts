/**
 * dcm-shell behind a real OpenSSH sshd started by the test on a loopback
 * port: the service-account way (one restrict,pty,command="dcm-shell --user
 * NAME" line per key; the login account is root here), exec in text and JSON,
 * the interactive shell over ssh -tt, refusals, and no impersonation: neither
 * the command line, the environment nor the login name picks the user.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { TestEnv, run, type TestUser } from '../helpers/env.js';
import { KEY, Typist, doorBin, ssh } from '../helpers/ssh.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

const SSHD_PORT = 32020;
const TAG = randomBytes(3).toString('hex');
/** A group of this run's own, so the test never touches a real dcm-users group. */
const GROUP = `dcmt-${TAG}`;

describe('dcm-shell behind OpenSSH', () => {
  const env = new TestEnv({ tag: 'sshos', sshPorts: '31150-31199', extraYaml: `openssh:\n  service_account: root\n  group: ${GROUP}\n` });
  let sshd: Sshd;
  let alice: TestUser;
  let bob: TestUser;
  let stray: string;
  const shellCmd = (user: string) => `${process.execPath} ${doorBin('dcm-shell')} --user ${user} --state-dir ${env.stateDir} --config ${env.configFile}`;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    bob = await env.addUser('bob');
    stray = join(env.stateDir, 'stray');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stray]);
    // The Match block dcm-admin prints must be valid sshd_config (startSshd runs sshd -t).
    const snippet = await env.tool('admin', 'openssh', '--json');
    assert.equal(snippet.code, 0, snippet.stderr);
    const sshdPart = (JSON.parse(snippet.stdout) as Record<string, string>)['/etc/ssh/sshd_config.d/dcm.conf']!;
    sshd = await startSshd({
      port: SSHD_PORT,
      authorizedKeys: [alice, bob].map((u) => `restrict,pty,command="${shellCmd(u.name)}" ${u.pubKey}`),
      extra: sshdPart.split('\n'),
    });
  });
  after(async () => {
    await sshd?.stop();
    await env.cleanup();
    await run('userdel', ['--remove', `dcmt${TAG}`]);
    await run('groupdel', [GROUP]);
  });

  test('dcm-useradd --system makes the host account in the group, with the keys, and lends its ids', async () => {
    const name = `dcmt${TAG}`;
    const r = await env.tool('useradd', name, '--key', alice.pubKey, '--system', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.system.created, true);
    const id = await run('id', [name]);
    assert.match(id.stdout, new RegExp(`groups=.*\\(${GROUP}\\)`));
    const uid = Number(/uid=(\d+)/.exec(id.stdout)![1]);
    assert.equal(out.uid, uid, 'the dcm user takes the host account\'s uid');
    assert.equal(readFileSync(join(out.system.home, '.ssh', 'authorized_keys'), 'utf8').trim(), alice.pubKey);
    const st = statSync(join(out.system.home, '.ssh', 'authorized_keys'));
    assert.equal(st.uid, uid);
    assert.equal(st.mode & 0o777, 0o600);
    const shadow = await run('getent', ['shadow', name]);
    assert.equal(shadow.stdout.split(':')[1], '*', 'no password, not locked: key logins work without PAM');
  });

  test('dcm-useradd --system on an existing account whose ~/.ssh is a link: refused, nothing written, nothing added', async () => {
    const name = `dcmtl${TAG}`;
    const victim = mkdtempSync(join(tmpdir(), 'dcm-victim-'));
    try {
      assert.equal((await run('useradd', ['--create-home', '--shell', '/bin/sh', name])).code, 0);
      const home = (await run('getent', ['passwd', name])).stdout.split(':')[5]!;
      symlinkSync(victim, join(home, '.ssh'));
      const r = await env.tool('useradd', name, '--key', alice.pubKey, '--system');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /\.ssh is a symbolic link or not a directory; refusing to follow it/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.deepEqual(readdirSync(victim), []);
      assert.equal(statSync(victim).uid, 0);
      assert.doesNotMatch((await run('id', [name])).stdout, new RegExp(GROUP), 'not added to the dcm group');
      assert.doesNotMatch((await env.tool('admin', 'users', 'ls')).stdout, new RegExp(name), 'no dcm user either');
    } finally {
      await run('userdel', ['--remove', name]);
      rmSync(victim, { recursive: true, force: true });
    }
  });

  test('dcm-admin openssh --authorized-keys prints one restricted forced-command line per key', async () => {
    const r = await env.tool('admin', 'openssh', '--authorized-keys');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    for (const u of [alice, bob]) {
      const mine = lines.filter((l) => l.endsWith(` ${u.name}`));
      assert.equal(mine.length, 1);
      assert.equal(mine[0], `restrict,pty,command="/usr/local/sbin/dcm-shell --user ${u.name}" ${u.pubKey.split(' ').slice(0, 2).join(' ')} ${u.name}`);
    }
  });

  test('exec: text and --json, exit codes; the key decides the user', async () => {
    const t = await ssh(alice.keyFile, SSHD_PORT, 'root', ['show']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /no containers/);
    const j = await ssh(bob.keyFile, SSHD_PORT, 'root', ['whoami', '--json']);
    assert.equal(j.code, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).user, 'bob');
    const bad = await ssh(alice.keyFile, SSHD_PORT, 'root', ['start', '31199']);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /^dcm: /);
  });

  test('a key that is not listed is refused', async () => {
    const r = await ssh(stray, SSHD_PORT, 'root', ['show']);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
  });

  test('no impersonation: --user in the command, SUDO_USER in the environment', async () => {
    const a = await ssh(alice.keyFile, SSHD_PORT, 'root', ['whoami', '--user', 'bob']);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /unknown option --user/);
    const b = await ssh(alice.keyFile, SSHD_PORT, 'root', ['--user', 'bob', 'whoami']);
    assert.notEqual(b.code, 0);
    const c = await ssh(alice.keyFile, SSHD_PORT, 'root', ['whoami', '--json'], ['-o', 'SetEnv=SUDO_USER=bob SSH_ORIGINAL_COMMAND=x']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).user, 'alice');
  });

  test('run directly: SUDO_USER without root, --user under sudo, --user outside sshd are refused', async () => {
    const shell = doorBin('dcm-shell');
    const common = ['--state-dir', env.stateDir, '--config', env.configFile];
    // As nobody: anyone can set SUDO_USER, only sudo also makes the process root.
    const nobody = await run('runuser', ['-u', 'nobody', '--', process.execPath, shell, ...common], { SUDO_USER: 'bob', SSH_ORIGINAL_COMMAND: 'whoami' });
    assert.equal(nobody.code, 4, nobody.stderr);
    assert.match(nobody.stderr, /not running as root/);
    const sudoUser = await run(process.execPath, [shell, '--user', 'alice', ...common], { SUDO_USER: 'bob', SSH_ORIGINAL_COMMAND: 'whoami' });
    assert.equal(sudoUser.code, 4);
    assert.match(sudoUser.stderr, /--user is not allowed under sudo/);
    const noSshd = await run(process.execPath, [shell, '--user', 'alice', ...common], { SUDO_USER: '', SSH_CONNECTION: '', SSH_ORIGINAL_COMMAND: 'whoami' });
    assert.equal(noSshd.code, 4);
    assert.match(noSshd.stderr, /SSH_CONNECTION/);
    // What sudo really produces (root, SUDO_USER set, no --user) is the sudo way in.
    const viaSudo = await run(process.execPath, [shell, ...common], { SUDO_USER: 'bob', SSH_ORIGINAL_COMMAND: 'whoami --json' });
    assert.equal(viaSudo.code, 0, viaSudo.stderr);
    assert.equal(JSON.parse(viaSudo.stdout).user, 'bob');
  });

  test('forwarding and subsystems are refused (restrict, no Subsystem)', async () => {
    const w = await ssh(alice.keyFile, SSHD_PORT, 'root', [], ['-W', '127.0.0.1:22']);
    assert.equal(w.code, 255);
    const r = await ssh(alice.keyFile, SSHD_PORT, 'root', ['show'], ['-o', 'ExitOnForwardFailure=yes', '-R', '127.0.0.1:32051:127.0.0.1:22']);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /remote port forwarding failed/);
    const s = await ssh(alice.keyFile, SSHD_PORT, 'root', ['sftp'], ['-s']);
    assert.notEqual(s.code, 0);
  });

  test('interactive shell with a pty: prompt, a command, exit', async () => {
    const t = Typist.ssh(alice.keyFile, SSHD_PORT, 'root');
    try {
      let at = await t.expect(/alice@dcm> /);
      t.type('whoami' + KEY.enter);
      at = await t.expect(/alice[\s\S]*alice@dcm> /, at);
      // Tab on its own, as typed: readline does not complete inside a pasted chunk.
      const before = at;
      t.type('sh');
      await t.expect(/sh/, before);
      t.type(KEY.tab);
      at = await t.expect(/show/, before);
      t.type(KEY.enter);
      at = await t.expect(/no containers[\s\S]*alice@dcm> /, at);
      t.type('exit' + KEY.enter);
      await t.expect(/logout/, at);
      assert.equal(await t.exit, 0);
    } finally {
      t.kill();
    }
  });

  test('without a pty and without a command, plain lines in and out', async () => {
    const p = spawn('ssh', ['-T', '-F', '/dev/null', '-i', alice.keyFile, '-p', String(SSHD_PORT), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'root@127.0.0.1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stdin.end('show --json\nwhoami --json\n');
    const code = await new Promise<number | null>((r) => p.on('exit', r));
    assert.equal(code, 0);
    assert.match(out, /^\[\]\n/);
    assert.match(out, /"user": "alice"/);
  });
});
