/**
 * Command grants and versions through every door, with real clients: dcm-server
 * (OpenSSH `ssh`, also `ssh -tt` with a scripted keyboard), dcm-shell behind a
 * real sshd (the service-account way: one command= line per key), and the
 * local `dcm` door. A command not granted is absent from help and from Tab
 * completion, opens no wizard and asks no confirmation, and using it is one
 * line with exit 4; `version` and every program's --version print dcm's and
 * the engine's versions, and say so when the engine does not answer; a
 * policy naming an unknown command is refused at load.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, TestEnv, run, type RunResult, type TestUser } from '../helpers/env.js';
import { KEY, Typist, doorBin, ssh, startServer, type ServerProc } from '../helpers/ssh.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

const SERVER_PORT = tp(30020);
const SSHD_PORT = tp(30021);
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('command grants and versions through the doors', () => {
  const env = new TestEnv({
    tag: 'grantdoor',
    sshPorts: '30000-30019',
    extraYaml: `
openssh:
  service_account: root
defaults:
  commands: { deny: [commit] }
groups:
  students:
    commands: { deny: [logs, rmi] }
  viewers:
    commands: { deny: [create, rm] }
  staff:
    commands: { allow: [commit] }
`,
  });
  let server: ServerProc;
  let sshd: Sshd;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let engineLine: string;
  const shellCmd = (user: string) =>
    `${process.execPath} ${doorBin('dcm-shell')} --user ${user} --state-dir ${env.stateDir} --config ${env.configFile}`;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice', '--group', 'students', '--group', 'staff');
    bob = await env.addUser('bob');
    carol = await env.addUser('carol', '--group', 'viewers');
    server = await startServer(env, SERVER_PORT);
    sshd = await startSshd({
      port: SSHD_PORT,
      authorizedKeys: [alice, bob, carol].map((u) => `restrict,pty,command="${shellCmd(u.name)}" ${u.pubKey}`),
    });
    const v = await run('docker', ['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}']);
    const [ver, api] = v.stdout.trim().split(' ');
    engineLine = `engine ${ver} (Engine API ${api})`;
  });
  after(async () => {
    await sshd?.stop();
    await server?.stop();
    await env.cleanup();
  });

  /** One command as `user` through each door: dcm-server, dcm-shell behind sshd, the local dcm. */
  const doors = (u: TestUser, ...words: string[]): Promise<[string, RunResult][]> =>
    Promise.all([
      ssh(u.keyFile, SERVER_PORT, u.name, words).then((r): [string, RunResult] => ['dcm-server', r]),
      ssh(u.keyFile, SSHD_PORT, 'root', words).then((r): [string, RunResult] => ['dcm-shell', r]),
      env.dcm(u.name, ...words).then((r): [string, RunResult] => ['dcm', r]),
    ]);

  const listed = (help: string) => [...help.matchAll(/^ {2}([a-z]+)(?: \([a-z,]+\))? {2,}/gm)].map((m) => m[1]);

  test('help lists only the commands granted, in every door', async () => {
    // run is off by default and no layer here allows it.
    const all = [
      'create',
      'show',
      'start',
      'stop',
      'restart',
      'pause',
      'unpause',
      'rm',
      'logs',
      'attach',
      'wait',
      'exec',
      'commit',
      'images',
      'rmi',
    ];
    const tail = ['gpus', 'whoami', 'version', 'help'];
    // alice: students deny logs and rmi; staff's allow of commit loses to the defaults' deny.
    for (const [door, r] of await doors(alice, 'help')) {
      assert.equal(r.code, 0, `${door}: ${r.stderr}`);
      assert.deepEqual(listed(r.stdout), [...all.filter((c) => !['logs', 'commit', 'rmi'].includes(c)), ...tail], door);
    }
    for (const [door, r] of await doors(carol, 'help', '--json')) {
      assert.equal(r.code, 0, `${door}: ${r.stderr}`);
      assert.deepEqual(
        (JSON.parse(r.stdout) as { name: string }[]).map((c) => c.name),
        [...all.filter((c) => !['create', 'rm', 'commit'].includes(c)), ...tail],
        door,
      );
    }
    // `dcm --help` too lists the caller's commands under the door's own usage.
    const local = await env.dcm('alice', '--help');
    assert.match(local.stdout, /^usage: sudo dcm COMMAND/);
    assert.doesNotMatch(local.stdout, /^ {2}(logs|commit|rmi) /m);
    for (const [door, r] of await doors(alice, 'help', 'rmi'))
      assert.deepEqual([r.code, r.stdout.split('\n').at(-2)], [0, 'command rmi is not available to you'], door);
  });

  test('using a command not granted is one line and exit 4, in every door; a granted one runs', async () => {
    for (const [door, r] of await doors(alice, 'commit', '30000', 'snap')) {
      assert.deepEqual(
        r,
        { code: 4, stdout: '', stderr: 'dcm: command commit is not available to you — policy: commands.deny "commit" (defaults)\n' },
        door,
      );
    }
    for (const [door, r] of await doors(carol, 'create', '--name', 'x')) {
      assert.deepEqual(
        r,
        { code: 4, stdout: '', stderr: 'dcm: command create is not available to you — policy: commands.deny "create" (group viewers)\n' },
        door,
      );
    }
    for (const [door, r] of await doors(alice, 'logs', '--json', '30000')) {
      assert.equal(r.code, 4, door);
      assert.deepEqual(JSON.parse(r.stdout), {
        error: 'command logs is not available to you — policy: commands.deny "logs" (group students)',
      });
    }
    // bob has logs: the command runs and finds no such container.
    for (const [door, r] of await doors(bob, 'logs', '30000')) assert.equal(r.code, 3, `${door}: ${r.stderr}`);
    assert.equal((await run('docker', ['ps', '-aq', '--filter', `label=dcm.instance=${env.instance}`])).stdout, '', 'nothing made');
  });

  test('interactive: Tab never offers a command not granted, and such a command opens no wizard and asks nothing', async () => {
    // dcm-server: "co" + Tab would be "commit" if alice had it.
    const t = Typist.ssh(alice.keyFile, SERVER_PORT, 'alice');
    try {
      let at = await t.expect(/alice@dcm> /);
      t.type('co' + KEY.tab + KEY.enter);
      at = await t.expect(/dcm: unknown command: co \(type "help" for the list\)[\s\S]*alice@dcm> /, at);
      t.type('sh' + KEY.tab);
      at = await t.expect(/show/, at);
      t.type(KEY.enter);
      at = await t.expect(/alice@dcm> /, at);
      t.type('exit' + KEY.enter);
      assert.equal(await t.exit, 0);
    } finally {
      t.kill();
    }
    // dcm-shell behind sshd: carol may neither create nor rm.
    const c = Typist.ssh(carol.keyFile, SSHD_PORT, 'root');
    try {
      let at = await c.expect(/carol@dcm> /);
      c.type('create' + KEY.enter);
      at = await c.expect(
        /dcm: command create is not available to you — policy: commands\.deny "create" \(group viewers\)[\s\S]*carol@dcm> /,
        at,
      );
      c.type('rm 30000' + KEY.enter);
      at = await c.expect(/dcm: command rm is not available to you — policy: commands\.deny "rm" \(group viewers\)[\s\S]*carol@dcm> /, at);
      c.type('cr' + KEY.tab + KEY.enter);
      at = await c.expect(/dcm: unknown command: cr /, at);
      c.type('exit' + KEY.enter);
      await c.expect(/logout/, at);
      assert.doesNotMatch(c.text(), /Image|Remove container/, 'no wizard, no confirmation');
    } finally {
      c.kill();
    }
  });

  test("version in every door, and --version on every program: dcm's version and the engine's", async () => {
    for (const [door, r] of await doors(bob, 'version'))
      assert.deepEqual(r, { code: 0, stdout: `dcm ${VERSION}\n${engineLine}\n`, stderr: '' }, door);
    const progs = (config: string): [string, string[]][] => [
      ['dcm', [BIN.dcm, '--config', config]],
      ['dcm-useradd', [BIN.useradd, '--config', config]],
      ['dcm-userdel', [BIN.userdel, '--config', config]],
      ['dcm-admin', [BIN.admin, '--config', config]],
      ['dcm-server', [doorBin('dcm-server'), '--config', config]],
      ['dcm-shell', [doorBin('dcm-shell'), '--config', config]],
    ];
    for (const [name, argv] of progs(env.configFile)) {
      const r = await run(process.execPath, [...argv, '--version'], env.env);
      assert.deepEqual(r, { code: 0, stdout: `dcm ${VERSION}\n${engineLine}\n`, stderr: '' }, name);
    }
    // An engine that is not there: said on its line, still exit 0.
    const down = join(env.stateDir, 'engine-down.yaml');
    writeFileSync(down, `${readFileSync(env.configFile, 'utf8')}\nengine:\n  socket: ${join(env.stateDir, 'no-engine.sock')}\n`);
    const gone = `dcm ${VERSION}\nengine not reachable: container engine unavailable\n`;
    for (const [name, argv] of progs(down)) {
      const r = await run(process.execPath, [...argv, '--version'], env.env);
      assert.deepEqual(r, { code: 0, stdout: gone, stderr: '' }, name);
    }
    // No configuration to find the engine in: said too.
    const none = await run(process.execPath, [BIN.admin, '--version', '--config', join(env.stateDir, 'missing.yaml')], env.env);
    assert.equal(none.code, 0);
    assert.match(
      none.stdout,
      new RegExp(
        `^dcm ${VERSION.replaceAll('.', '\\.')}\\nengine not asked: the configuration that names its socket could not be read: .*missing\\.yaml: no configuration file`,
      ),
    );
  });

  test('a policy naming a command dcm does not know is refused at load, with one line naming the field', async () => {
    const bad = join(env.stateDir, 'bad-grants.yaml');
    writeFileSync(bad, readFileSync(env.configFile, 'utf8').replace('deny: [logs, rmi]', 'deny: [logs, rmi, frobnicate]'));
    // An installation of its own (no dcm-server serves it), so the door reads the file itself.
    const state = mkdtempSync(join(tmpdir(), 'dcm-grantdoor-bad-'));
    const r = await run(process.execPath, [BIN.dcm, '--user', 'alice', 'show'], { ...env.env, DCM_STATE_DIR: state, DCM_CONFIG: bad });
    rmSync(state, { recursive: true, force: true });
    assert.deepEqual(r, {
      code: 7,
      stdout: '',
      stderr: `dcm: ${bad}: groups.students.commands.deny.2: unknown command "frobnicate": one of create, run, show, start, stop, restart, pause, unpause, rm, logs, attach, wait, exec, commit, images, rmi, gpus, whoami, version\n`,
    });
    const check = await env.tool('admin', 'policy', 'check', bad);
    assert.equal(check.code, 7);
    assert.match(check.stdout + check.stderr, /groups\.students\.commands\.deny\.2: unknown command "frobnicate"/);
  });
});
