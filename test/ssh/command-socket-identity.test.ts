/**
 * Who may use dcm-server's command sockets, tried by real host accounts the
 * test makes (removed after): a member of the state directory's group (as
 * the service account must be, to open the database when no server runs), the
 * service account itself, and an account that uses dcm-shell through sudo.
 * Identity comes from which socket a caller could open, never from the facts
 * it sends: forged requests claiming root, another user, or the service
 * account acting for bob are refused, and the real doors still go through the
 * sockets (the server logs each request with the socket it came in on).
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { TestEnv, dockerInspect, run, type TestUser } from '../helpers/env.js';
import { KEY, Typist, doorBin, ssh, startServer, type ServerProc } from '../helpers/ssh.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { answerOf } from '../helpers/command-answer.js';

const SERVER_PORT = tp(32350);
const SSHD_PORT = tp(32351);
const TAG = randomBytes(3).toString('hex');
/** The state directory's group, as an administrator sets it up for the service account. */
const GROUP = `dcmtg${TAG}`;
/** Another member of that group: the attacker. */
const MEMBER = `dcmtm${TAG}`;
/** The service account (openssh.service_account), also in the group. */
const SERVICE = `dcmts${TAG}`;
/** A host account that reaches dcm-shell through sudo, and a dcm user of the same name. */
const SUDOER = `dcmtu${TAG}`;
const SUDOERS = `/etc/sudoers.d/dcmt-sock-${TAG}`;
const stage = mkdtempSync(join(tmpdir(), 'dcm-sockid-stage-'));

/**
 * A raw client run as `account`: sends each request line to its path and
 * prints, for each, {"reply": ...} or {"error": CODE}. Nothing but node:net,
 * like a forger's own tool.
 */
const FORGER = `
const net = require('node:net');
const one = ([path, body]) => new Promise((done) => {
  const s = net.connect(path);
  let out = '';
  s.setEncoding('utf8');
  s.on('connect', () => s.end(body + '\\n'));
  s.on('data', (d) => (out += d));
  s.on('end', () => done({ reply: out }));
  s.on('error', (e) => done({ error: e.code }));
});
(async () => {
  const out = [];
  for (const t of JSON.parse(process.argv[1])) out.push(await one(t));
  console.log(JSON.stringify(out));
})();
`;

type Outcome = { reply?: string; error?: string };

async function forgeAll(account: string, tries: [string, object][]): Promise<Outcome[]> {
  const r = await run('runuser', [
    '-u',
    account,
    '--',
    process.execPath,
    '-e',
    FORGER,
    JSON.stringify(tries.map(([p, req]) => [p, JSON.stringify(req)])),
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const forge = async (account: string, path: string, request: object): Promise<Outcome> => (await forgeAll(account, [[path, request]]))[0]!;

const uidOf = async (name: string) => Number((await run('id', ['-u', name])).stdout.trim());

describe('command sockets: identity from the socket, not from the request', () => {
  const env = new TestEnv({
    tag: 'sockid',
    sshPorts: '32300-32349',
    extraYaml: `openssh:\n  service_account: ${SERVICE}\n  group: ${GROUP}\n`,
  });
  const rootSock = () => join(env.stateDir, 'run', 'root', 'command.sock');
  const serviceSock = () => join(env.stateDir, 'run', 'service.sock');
  const legacySock = () => join(env.stateDir, 'dcm-server.sock');
  let server: ServerProc;
  let sshd: Sshd;
  let alice: TestUser;
  let serviceUid: number;
  const wrapper = join(stage, 'dcm-shell');
  const shellCmd = (user: string) =>
    `${process.execPath} ${doorBin('dcm-shell')} --user ${user} --state-dir ${env.stateDir} --config ${env.configFile}`;

  /** Forged requests: root acting for bob, sudo on bob's behalf, the service account naming bob. */
  const forgeries = () => [
    { v: 2, door: 'local', facts: { euid: 0, ruid: 0, account: 'root', userFlag: 'bob' }, words: ['whoami', '--json'] },
    { v: 2, door: 'shell', facts: { euid: 0, ruid: 0, account: 'root', sudoUser: 'bob' }, command: 'whoami --json' },
    {
      v: 2,
      door: 'shell',
      facts: { euid: serviceUid, ruid: serviceUid, account: SERVICE, sshConnection: '127.0.0.1 50000 127.0.0.1 22', userFlag: 'bob' },
      command: 'whoami --json',
    },
  ];

  before(async () => {
    assert.equal((await run('groupadd', [GROUP])).code, 0);
    for (const [name, home] of [
      [MEMBER, false],
      [SERVICE, true],
      [SUDOER, false],
    ] as const) {
      // The service account as the README sets it up: the state directory's group, and the engine's.
      const groups = name === SUDOER ? [] : ['-G', name === SERVICE ? `${GROUP},docker` : GROUP];
      const r = await run('useradd', [home ? '--create-home' : '--no-create-home', '--shell', '/bin/sh', ...groups, name]);
      assert.equal(r.code, 0, r.stderr);
    }
    // No password, not locked: sshd (without PAM) lets a key log in to the service account.
    assert.equal((await run('usermod', ['-p', '*', SERVICE])).code, 0);
    serviceUid = await uidOf(SERVICE);
    // The state directory as the README sets it up for a service account: the group may enter and write.
    assert.equal((await run('chgrp', [GROUP, env.stateDir])).code, 0);
    chmodSync(env.stateDir, 0o770);
    await env.registerBase();
    alice = await env.addUser('alice');
    await env.addUser('bob');
    await env.addUser(SUDOER);
    // sudo → dcm-shell with the state dir fixed by a wrapper, as dcm-admin openssh --install writes it.
    writeFileSync(
      wrapper,
      `#!/bin/sh\nexec ${process.execPath} ${doorBin('dcm-shell')} --state-dir ${env.stateDir} --config ${env.configFile} "$@"\n`,
      { mode: 0o755 },
    );
    writeFileSync(
      SUDOERS,
      `Defaults!${wrapper} env_keep += "SSH_ORIGINAL_COMMAND SSH_CONNECTION"\n${SUDOER} ALL=(root) NOPASSWD: ${wrapper} ""\n`,
      { mode: 0o440 },
    );
    const check = await run('visudo', ['-cf', SUDOERS]);
    assert.equal(check.code, 0, check.stderr);
    // The service account's forced command, behind a real sshd.
    sshd = await startSshd({ port: SSHD_PORT, authorizedKeys: [`restrict,pty,command="${shellCmd('alice')}" ${alice.pubKey}`] });
    chmodSync(sshd.dir, 0o711); // sshd reads the keys file as the logging-in account
    chmodSync(join(sshd.dir, 'authorized_keys'), 0o644);
    server = await startServer(env, SERVER_PORT);
  });
  after(async () => {
    await server?.stop();
    await sshd?.stop();
    rmSync(SUDOERS, { force: true });
    rmSync(stage, { recursive: true, force: true });
    await env.cleanup();
    for (const name of [MEMBER, SERVICE, SUDOER]) await run('userdel', ['--remove', name]);
    await run('groupdel', [GROUP]);
  });

  test("the sockets: root's is 0600 root in a 0700 root directory; the service account's is 0600 and its own", () => {
    const dir = statSync(join(env.stateDir, 'run'));
    assert.equal(dir.uid, 0);
    assert.equal(dir.mode & 0o777, 0o711);
    const rootDir = statSync(join(env.stateDir, 'run', 'root'));
    assert.equal(rootDir.uid, 0);
    assert.equal(rootDir.mode & 0o777, 0o700);
    const r = statSync(rootSock());
    assert.ok(r.isSocket());
    assert.equal(r.uid, 0);
    assert.equal(r.mode & 0o777, 0o600);
    const s = statSync(serviceSock());
    assert.ok(s.isSocket());
    assert.equal(s.uid, serviceUid);
    assert.equal(s.mode & 0o777, 0o600);
    assert.deepEqual(
      readdirSync(env.stateDir).filter((f) => f.endsWith('.sock')),
      [],
      'no socket the whole group can open',
    );
    assert.match(server.log(), new RegExp(`command socket for the service account ${SERVICE}: ${serviceSock()}`));
  });

  test("a member of the state directory's group cannot reach either socket, whoever it claims to be", async () => {
    const before = server.log().length;
    const tries = [legacySock(), rootSock(), serviceSock()].flatMap((path) => forgeries().map((req) => [path, req] as [string, object]));
    const outcomes = await forgeAll(MEMBER, tries);
    outcomes.forEach((r, i) => {
      const path = tries[i]![0];
      assert.equal(r.reply, undefined, `${path} answered a forged request: ${r.reply}`);
      assert.equal(r.error, path === legacySock() ? 'ENOENT' : 'EACCES', path);
    });
    assert.doesNotMatch(server.log().slice(before), /command socket: bob/, 'nothing ran as bob');
    // Nor does running dcm-shell itself help: --user belongs to the service account alone.
    const self = await run(
      'runuser',
      [
        '-u',
        MEMBER,
        '--',
        process.execPath,
        doorBin('dcm-shell'),
        '--user',
        'bob',
        '--state-dir',
        env.stateDir,
        '--config',
        env.configFile,
      ],
      { SSH_ORIGINAL_COMMAND: 'whoami --json', SSH_CONNECTION: '127.0.0.1 50000 127.0.0.1 22', SUDO_USER: '' },
    );
    assert.equal(self.code, 4, self.stderr);
    assert.equal(self.stderr, `dcm-shell: --user is accepted only on the forced-command line of the service account "${SERVICE}"\n`);
  });

  test('the service account: no root socket, and on its own socket only its forced command, judged by the socket', async () => {
    const before = server.log().length;
    const [asRoot, asSudo, asService] = forgeries();
    assert.deepEqual(await forge(SERVICE, rootSock(), asRoot!), { error: 'EACCES' });
    const local = answerOf((await forge(SERVICE, serviceSock(), asRoot!)).reply!);
    assert.equal(local.code, 4);
    assert.equal(local.stderr, `dcm: this socket serves only the forced-command dcm-shell of the service account "${SERVICE}"\n`);
    // Claiming sudo: the server knows the caller is not root, whatever the request says.
    const sudo = answerOf((await forge(SERVICE, serviceSock(), asSudo!)).reply!);
    assert.equal(sudo.code, 4);
    assert.equal(sudo.stderr, 'dcm-shell: SUDO_USER is set but dcm-shell is not running as root: start it through sudo\n');
    assert.doesNotMatch(server.log().slice(before), /command socket: bob/);
    // Naming the user is what the service account's command= lines do: served, as that user.
    const named = answerOf((await forge(SERVICE, serviceSock(), asService!)).reply!);
    assert.equal(named.code, 0, named.stderr);
    assert.equal(JSON.parse(named.stdout).user, 'bob');
    assert.match(server.log().slice(before), /command socket: bob via the service socket \(dcm-shell\)/);
  });

  test("the real doors still go through the sockets: root dcm --user, sudo dcm-shell, the service account's forced command", async () => {
    const before = server.log().length;
    const admin = await env.dcm('alice', 'whoami', '--json');
    assert.equal(admin.code, 0, admin.stderr);
    assert.equal(JSON.parse(admin.stdout).user, 'alice');
    const viaSudo = await run('runuser', ['-u', SUDOER, '--', 'sudo', '-n', wrapper], { SSH_ORIGINAL_COMMAND: 'whoami --json' });
    assert.equal(viaSudo.code, 0, viaSudo.stderr);
    assert.equal(JSON.parse(viaSudo.stdout).user, SUDOER);
    const viaSshd = await ssh(alice.keyFile, SSHD_PORT, SERVICE, ['whoami', '--json']);
    assert.equal(viaSshd.code, 0, viaSshd.stderr);
    assert.equal(JSON.parse(viaSshd.stdout).user, 'alice');
    const log = server.log().slice(before);
    assert.match(log, /command socket: alice via the root socket \(dcm\)/);
    assert.match(log, new RegExp(`command socket: ${SUDOER} via the root socket \\(dcm-shell\\)`));
    assert.match(log, /command socket: alice via the service socket \(dcm-shell\)/);
  });
  test("the service account's interactive shell (ssh -tt) hands each command to dcm-server: create (by wizard) gives a running container, rm -f removes it", async () => {
    const before = server.log().length;
    const t = Typist.ssh(alice.keyFile, SSHD_PORT, SERVICE);
    try {
      let at = await t.expect(/alice@dcm> /);
      // create alone: the wizard reads the database here, then the command it builds goes to the server.
      t.type('create' + KEY.enter);
      at = await t.expect(/Image[\s\S]*dcm\/debian-base:bookworm/, at);
      t.type(KEY.enter);
      at = await t.expect(/Extra ports/, at);
      t.type(KEY.enter);
      at = await t.expect(/Name/, at);
      t.type('viasock' + KEY.enter);
      at = await t.expect(/running: create dcm\/debian-base:bookworm --name viasock/, at);
      const from = at;
      at = await t.expect(/(ssh -p \d+ root@127\.0\.0\.1|dcm: .*)[\s\S]*alice@dcm> /, at, 120_000);
      // Run in the service account's own process, create could not check the root-only storage.
      assert.equal(/^dcm: .*$/m.exec(t.text().slice(from))?.[0], undefined);
      const mine = await env.dcmJson<{ id: number; name: string }[]>('alice', 'show');
      const made = mine.find((c) => c.name === 'viasock');
      assert.ok(made, `no container viasock: ${JSON.stringify(mine)}`);
      const inspected = await dockerInspect(env.dockerName(made.id));
      assert.equal(inspected?.State?.Running, true, 'the container runs');
      t.type(`rm -f ${made.id}` + KEY.enter);
      at = await t.expect(/Remove container/, at);
      t.type('y' + KEY.enter);
      at = await t.expect(new RegExp(`removed ${made.id} \\(viasock\\)[\\s\\S]*alice@dcm> `), at, 60_000);
      assert.equal(await dockerInspect(env.dockerName(made.id)), null, 'the container is gone');
      t.type('exit' + KEY.enter);
      await t.expect(/logout/, at);
      assert.equal(await t.exit, 0);
    } finally {
      t.kill();
    }
    // Both came through the service socket, one request each.
    const log = server.log().slice(before);
    assert.equal(log.match(/command socket: alice via the service socket \(dcm-shell\)/g)?.length, 2, log);
  });

  test("the service account's interactive shell: logs -f streams through the service socket as it comes; Ctrl-C stops it", async () => {
    const c = await env.dcmJson<{ id: number }>('alice', 'create');
    const say = async (line: string) =>
      assert.equal((await run('docker', ['exec', env.dockerName(c.id), 'sh', '-c', `echo ${line} > /proc/1/fd/2`])).code, 0);
    const before = server.log().length;
    const t = Typist.ssh(alice.keyFile, SSHD_PORT, SERVICE);
    try {
      let at = await t.expect(/alice@dcm> /);
      t.type(`logs -f ${c.id}` + KEY.enter);
      at = await t.expect(/Server listening on :: port 22\.\n/, at);
      await say('svcfollow');
      at = await t.expect(/svcfollow\n/, at);
      t.type(KEY.ctrlC);
      at = await t.expect(/\^C\nalice@dcm> /, at);
      await say('svcnotshown');
      t.type('show' + KEY.enter);
      at = await t.expect(new RegExp(`${c.id}[\\s\\S]*alice@dcm> `), at);
      t.type('exit' + KEY.enter);
      await t.expect(/logout/, at);
      assert.equal(await t.exit, 0);
      assert.ok(!t.text().includes('svcnotshown'), t.text());
    } finally {
      t.kill();
    }
    const log = server.log().slice(before);
    assert.equal(log.match(/command socket: alice via the service socket \(dcm-shell\)/g)?.length, 2, log);
  });
});

describe('the service account without a server, and without write access to the database', () => {
  const env = new TestEnv({ tag: 'sockro', sshPorts: '32480-32499', extraYaml: `openssh:\n  service_account: ${SERVICE}2\n` });
  const account = `${SERVICE}2`;
  let containerId = 0;
  /** The account's forced-command dcm-shell for alice, as sshd would run it. */
  const door = (command: string) =>
    run(
      'runuser',
      [
        '-u',
        account,
        '--',
        process.execPath,
        doorBin('dcm-shell'),
        '--user',
        'alice',
        '--state-dir',
        env.stateDir,
        '--config',
        env.configFile,
      ],
      { SSH_ORIGINAL_COMMAND: command, SSH_CONNECTION: '127.0.0.1 50000 127.0.0.1 22', SUDO_USER: '' },
    );

  before(async () => {
    // The README's service account: it reaches the engine (group docker).
    const r = await run('useradd', ['--no-create-home', '--shell', '/bin/sh', '-G', 'docker', account]);
    assert.equal(r.code, 0, r.stderr);
    await env.registerBase();
    await env.addUser('alice');
    containerId = (await env.dcmJson<{ id: number }>('alice', 'create')).id;
    // The README's group setup with the last step forgotten: the directory is the group's, the database file is not.
    assert.equal((await run('chgrp', [account, env.stateDir])).code, 0);
    chmodSync(env.stateDir, 0o770);
  });
  after(async () => {
    await env.cleanup();
    await run('userdel', [account]);
  });

  test('its forced command reads, and says the database is read-only when it must write, not "internal error"', async () => {
    const read = await door('whoami --json');
    assert.equal(read.code, 0, read.stderr);
    assert.equal(JSON.parse(read.stdout).user, 'alice');
    // rm writes its row's state before the engine acts: the read-only database is what it meets.
    const r = await door(`rm -f ${containerId}`);
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.stderr, "dcm: dcm's database is read-only: nothing can be saved until the administrator fixes it\n");
    // create must check the root-only storage before binding it, which this account cannot: it says so.
    const c = await door('create');
    assert.equal(c.code, 6, c.stderr);
    assert.equal(c.stderr, 'dcm: this command needs dcm-server, which is not running: ask the administrator to start it\n');
  });

  test('its shell without a server runs each line itself: reads work, create says dcm-server is not running', async () => {
    // No pty and no command: the shell reads plain lines, through the same runner as the interactive shell.
    const door = [process.execPath, doorBin('dcm-shell'), '--user', 'alice', '--state-dir', env.stateDir, '--config', env.configFile].join(
      ' ',
    );
    const r = await run('sh', ['-c', `printf 'whoami\\ncreate\\n' | runuser -u ${account} -- ${door}`], {
      SSH_CONNECTION: '127.0.0.1 50000 127.0.0.1 22',
      SUDO_USER: '',
      SSH_ORIGINAL_COMMAND: '',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^user +alice /m);
    assert.match(r.stdout, /^dcm: this command needs dcm-server, which is not running: ask the administrator to start it$/m);
  });

  test('a service socket this account may not use: create says so, not that dcm-server is not running', async () => {
    // A server listens, but its service socket is root's (as when it was started for another service account).
    const run_ = join(env.stateDir, 'run');
    rmSync(run_, { recursive: true, force: true });
    mkdirSync(run_, { mode: 0o711 });
    chmodSync(run_, 0o711);
    const listener = createServer((s) => s.destroy());
    await new Promise<void>((r) => listener.listen(join(run_, 'service.sock'), r));
    try {
      const r = await door('create');
      assert.equal(r.code, 6, r.stderr);
      assert.equal(
        r.stderr,
        'dcm: this command needs dcm-server, and this account could not use its command socket: ask the administrator\n',
      );
    } finally {
      await new Promise<void>((r) => listener.close(() => r()));
      rmSync(run_, { recursive: true, force: true });
    }
  });
});
