/**
 * dcm-shell behind a real OpenSSH sshd started by the test on a loopback
 * port: the service-account way (one restrict,pty,command="dcm-shell --user
 * NAME" line per key; the login account is root here), exec in text and JSON,
 * the interactive shell over ssh -tt, refusals, and no impersonation: neither
 * the command line, the environment nor the login name picks the user.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { BIN, TestEnv, run, type RunResult, type TestUser } from '../helpers/env.js';
import { KEY, Typist, doorBin, ssh, sshOpts } from '../helpers/ssh.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

const SSHD_PORT = tp(32020);
const TAG = randomBytes(3).toString('hex');
/** A group of this run's own, so the test never touches a real dcm-users group. */
const GROUP = `dcmt-${TAG}`;
/** This run's sudoers rule (a name without dots: sudo reads it). */
const SUDOERS = `/etc/sudoers.d/dcmt-${TAG}`;
const SHELL_PATH = '/usr/local/sbin/dcm-shell';
const stage = mkdtempSync(join(tmpdir(), 'dcm-openssh-stage-'));

describe('dcm-shell behind OpenSSH', () => {
  const env = new TestEnv({ tag: 'sshos', sshPorts: '31150-31199', extraYaml: `openssh:\n  service_account: root\n  group: ${GROUP}\n` });
  let sshd: Sshd;
  let alice: TestUser;
  let bob: TestUser;
  let stray: string;
  const shellCmd = (user: string) =>
    `${process.execPath} ${doorBin('dcm-shell')} --user ${user} --state-dir ${env.stateDir} --config ${env.configFile}`;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    bob = await env.addUser('bob');
    stray = join(env.stateDir, 'stray');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stray]);
    // The sudo way in, with the files `dcm-admin openssh --install` writes,
    // staged under a temp root: the wrapper path moves there, the Match block
    // reads the account's own authorized_keys, and the sudoers rule goes to a
    // file of this run's own in /etc/sudoers.d (removed after).
    const inst = await env.tool('admin', 'openssh', '--install', '--root', stage);
    assert.equal(inst.code, 0, inst.stderr);
    const wrapper = join(stage, SHELL_PATH);
    const moved = (f: string) => readFileSync(join(stage, f), 'utf8').replaceAll(SHELL_PATH, wrapper);
    // Plus the local door, as an admin lets users run `sudo dcm ...` with any arguments.
    const localDoor = `%${GROUP} ALL=(root) NOPASSWD: ${process.execPath} ${BIN.dcm} *\n`;
    writeFileSync(SUDOERS, moved('/etc/sudoers.d/dcm') + localDoor, { mode: 0o440 });
    const check = await run('visudo', ['-cf', SUDOERS]);
    assert.equal(check.code, 0, check.stderr);
    // The Match block must be valid sshd_config (startSshd runs sshd -t).
    const sshdPart = moved('/etc/ssh/sshd_config.d/dcm.conf').replace(/^(Match .*)$/m, '$1\n    AuthorizedKeysFile .ssh/authorized_keys');
    sshd = await startSshd({
      port: SSHD_PORT,
      authorizedKeys: [alice, bob].map((u) => `restrict,pty,command="${shellCmd(u.name)}" ${u.pubKey}`),
      extra: sshdPart.split('\n'),
    });
  });
  after(async () => {
    rmSync(SUDOERS, { force: true });
    rmSync(stage, { recursive: true, force: true });
    await sshd?.stop();
    await env.cleanup();
    await run('userdel', ['--remove', `dcmt${TAG}`]);
    await run('groupdel', [GROUP]);
  });

  /**
   * The host account of the sudo way (`dcm-useradd --system`, alice's key, in
   * GROUP), made once by whichever test needs it first, so each runs alone.
   */
  let made: Promise<RunResult> | undefined;
  const systemAccount = async (): Promise<string> => {
    made ??= env.tool('useradd', `dcmt${TAG}`, '--key', alice.pubKey, '--system', '--json');
    const r = await made;
    assert.equal(r.code, 0, r.stderr);
    return `dcmt${TAG}`;
  };

  test('dcm-useradd --system makes the host account in the group, with the keys, and lends its ids', async () => {
    const name = await systemAccount();
    const out = JSON.parse((await made!).stdout);
    assert.equal(out.system.created, true);
    const id = await run('id', [name]);
    assert.match(id.stdout, new RegExp(`groups=.*\\(${GROUP}\\)`));
    const uid = Number(/uid=(\d+)/.exec(id.stdout)![1]);
    assert.equal(out.uid, uid, "the dcm user takes the host account's uid");
    assert.equal(readFileSync(join(out.system.home, '.ssh', 'authorized_keys'), 'utf8').trim(), alice.pubKey);
    const st = statSync(join(out.system.home, '.ssh', 'authorized_keys'));
    assert.equal(st.uid, uid);
    assert.equal(st.mode & 0o777, 0o600);
    const shadow = await run('getent', ['shadow', name]);
    assert.equal(shadow.stdout.split(':')[1], '*', 'no password, not locked: key logins work without PAM');
  });

  test('the sudo way: sshd ForceCommand → sudo → dcm-shell, the identity is the host account', async () => {
    const name = await systemAccount();
    const who = await ssh(alice.keyFile, SSHD_PORT, name, ['whoami', '--json']);
    assert.equal(who.code, 0, who.stderr);
    assert.equal(JSON.parse(who.stdout).user, name);
    const other = await ssh(alice.keyFile, SSHD_PORT, name, ['whoami', '--user', 'alice']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /unknown option --user/);
    const envTry = await ssh(alice.keyFile, SSHD_PORT, name, ['whoami', '--json'], ['-o', 'SetEnv=SUDO_USER=bob DCM_STATE_DIR=/tmp']);
    assert.equal(envTry.code, 0, envTry.stderr);
    assert.equal(JSON.parse(envTry.stdout).user, name);
    // The account itself, with a shell on the host, gets no more from sudo than ForceCommand gives:
    // no arguments (the rule's ""), no other command.
    const wrapper = join(stage, SHELL_PATH);
    for (const argv of [
      [wrapper, '--user', 'alice'],
      [wrapper, '--state-dir', '/tmp/mine'],
      ['env', `DCM_STATE_DIR=/tmp/mine`, wrapper],
      ['/bin/sh'],
    ]) {
      const r = await run('runuser', ['-u', name, '--', 'sudo', '-n', ...argv], { SSH_ORIGINAL_COMMAND: 'whoami' });
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.stderr, /sudo: a password is required|not allowed|may not run/, argv.join(' '));
    }
  });

  test('sudo dcm: the local door under real sudo refuses a state dir or config the user names', async () => {
    const name = await systemAccount();
    const mine = join(stage, 'mine');
    for (const flag of [
      ['--state-dir', mine],
      ['--config', join(mine, 'c.yaml')],
    ]) {
      const r = await run('runuser', ['-u', name, '--', 'sudo', '-n', process.execPath, BIN.dcm, ...flag, 'whoami']);
      assert.equal(r.code, 4, r.stderr);
      assert.equal(r.stderr.trim(), `dcm: ${flag[0]} is not allowed under sudo: you use the administrator's installation`);
    }
    const u = await run('runuser', ['-u', name, '--', 'sudo', '-n', process.execPath, BIN.dcm, '--user', 'alice', 'whoami']);
    assert.equal(u.code, 4);
    assert.match(u.stderr, /--user is not allowed under sudo/);
    assert.equal(existsSync(mine), false);
  });

  test("the sudo way, interactive: a pty gives the shell with the account's prompt", async () => {
    const name = await systemAccount();
    const t = Typist.ssh(alice.keyFile, SSHD_PORT, name);
    try {
      const at = await t.expect(new RegExp(`${name}@dcm> `));
      t.type('show' + KEY.enter);
      await t.expect(new RegExp(`no containers[\\s\\S]*${name}@dcm> `), at);
      t.type('exit' + KEY.enter);
      assert.equal(await t.exit, 0);
    } finally {
      t.kill();
    }
  });

  test('dcm-useradd --system on an existing account whose ~/.ssh is a link: refused, nothing written, nothing added', async () => {
    const name = `dcmtl${TAG}`;
    const victim = mkdtempSync(join(tmpdir(), 'dcm-victim-'));
    try {
      assert.equal((await run('useradd', ['--create-home', '--shell', '/bin/sh', name])).code, 0);
      const home = (await run('getent', ['passwd', name])).stdout.split(':')[5]!;
      symlinkSync(victim, join(home, '.ssh'));
      const r = await env.tool('useradd', name, '--key', alice.pubKey, '--system');
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr,
        `dcm-useradd: ${home}/.ssh is a symbolic link or not a directory; refusing to follow it (remove it, e.g. from inside a container, and retry)\n`,
      );
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
      assert.equal(
        mine[0],
        `restrict,pty,command="/usr/local/sbin/dcm-shell --user ${u.name}" ${u.pubKey.split(' ').slice(0, 2).join(' ')} ${u.name}`,
      );
    }
  });

  test('exec: text and --json, exit codes; the key decides the user', async () => {
    const t = await ssh(alice.keyFile, SSHD_PORT, 'root', ['show']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /no containers/);
    const j = await ssh(bob.keyFile, SSHD_PORT, 'root', ['whoami', '--json']);
    assert.equal(j.code, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).user, 'bob');
    const bad = await ssh(alice.keyFile, SSHD_PORT, 'root', ['start', String(tp(31199))]);
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
    // "--" so that the local ssh does not take --user for its own option: the server must see it.
    const b = await ssh(alice.keyFile, SSHD_PORT, 'root', ['--', '--user', 'bob', 'whoami']);
    assert.equal(b.code, 2, b.stderr);
    assert.equal(b.stderr, 'dcm: unknown command: --user (type "help" for the list)\n');
    const c = await ssh(alice.keyFile, SSHD_PORT, 'root', ['whoami', '--json'], ['-o', 'SetEnv=SUDO_USER=bob SSH_ORIGINAL_COMMAND=x']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).user, 'alice');
  });

  test('run directly: SUDO_USER without root, --user under sudo, --user outside sshd are refused', async () => {
    const shell = doorBin('dcm-shell');
    const common = ['--state-dir', env.stateDir, '--config', env.configFile];
    // As nobody: anyone can set SUDO_USER, only sudo also makes the process root.
    const nobody = await run('runuser', ['-u', 'nobody', '--', process.execPath, shell, ...common], {
      SUDO_USER: 'bob',
      SSH_ORIGINAL_COMMAND: 'whoami',
    });
    assert.equal(nobody.code, 4, nobody.stderr);
    assert.match(nobody.stderr, /not running as root/);
    const sudoUser = await run(process.execPath, [shell, '--user', 'alice', ...common], {
      SUDO_USER: 'bob',
      SSH_ORIGINAL_COMMAND: 'whoami',
    });
    assert.equal(sudoUser.code, 4);
    assert.match(sudoUser.stderr, /--user is not allowed under sudo/);
    const noSshd = await run(process.execPath, [shell, '--user', 'alice', ...common], {
      SUDO_USER: '',
      SSH_CONNECTION: '',
      SSH_ORIGINAL_COMMAND: 'whoami',
    });
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
    const r = await ssh(
      alice.keyFile,
      SSHD_PORT,
      'root',
      ['show'],
      ['-o', 'ExitOnForwardFailure=yes', '-R', `127.0.0.1:${tp(32051)}:127.0.0.1:22`],
    );
    assert.equal(r.code, 255);
    assert.match(r.stderr, /remote port forwarding failed/);
    const s = await ssh(alice.keyFile, SSHD_PORT, 'root', ['sftp'], ['-s']);
    assert.equal(s.code, 255, s.stderr);
    assert.match(s.stderr, /subsystem request failed on channel 0/);
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
    const p = spawn('ssh', ['-T', ...sshOpts(alice.keyFile, SSHD_PORT), 'root@127.0.0.1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stdin.end('show --json\nwhoami --json\n');
    const code = await new Promise<number | null>((r) => p.on('exit', r));
    assert.equal(code, 0);
    assert.match(out, /^\[\]\n/);
    assert.match(out, /"user": "alice"/);
  });
});
