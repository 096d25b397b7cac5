/**
 * Policy never fails open. The configuration file missing (moved away while
 * being edited), unreadable (a directory the service account cannot enter),
 * not a file, or invalid stops every door with one line and exit 7 — it never
 * means "built-in defaults", which would drop every deny list, group limit and
 * `user: host`. A running dcm-server keeps its last good policy when the file
 * disappears or turns invalid, logs it, and the doors that hand commands to it
 * get that policy. The default path /etc/dcm/config.yaml is exercised in a
 * private mount namespace (copy-on-write /etc and /var/lib), so the host's own
 * files are never touched. `dcm-admin policy check` lists every problem.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_IMAGE, BIN, TestEnv, run, type TestUser } from '../helpers/env.js';
import { doorBin, sleep, ssh } from '../helpers/ssh.js';
import { tp } from '../helpers/ports.js';
import { PrivateEtc, inNamespaceOf } from '../helpers/private-etc.js';

const env = new TestEnv({ tag: 'polfc', sshPorts: '32100-32119', extraYaml: 'defaults:\n  limits: { memory: 128m, cpus: 0.25 }\n' });
const etc = new PrivateEtc();
const DEFAULT = '/etc/dcm/config.yaml';
const MISSING = `${DEFAULT}: no configuration file (dcm does not run without one; a file holding {} means the built-in defaults)`;
/** Environment of a door run the way sudo runs it: root, SUDO_USER, no DCM_* (ignored under sudo anyway). */
const sudoEnv = (user: string) => ({ SUDO_USER: user, DCM_STATE_DIR: '', DCM_CONFIG: '' });
let alice: TestUser;

before(async () => {
  await env.registerBase();
  alice = await env.addUser('alice');
});
after(async () => {
  await env.cleanup();
});

/** Runs argv inside a private /etc prepared by `setup`; bounded, so a door that hangs fails the test. */
function inPrivateEtc(setup: string, argv: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const [cmd, args] = etc.wrap(setup, argv);
  return run(cmd, args, extraEnv, 30_000);
}

test('default config missing: the sudo door and dcm-shell stop with one line (exit 7), never built-in defaults', async () => {
  const dcm = await inPrivateEtc('', [process.execPath, BIN.dcm, 'whoami'], sudoEnv('alice'));
  assert.equal(dcm.code, 7, dcm.stderr);
  assert.equal(dcm.stderr, `dcm: ${MISSING}\n`);
  const shell = await inPrivateEtc('', [process.execPath, doorBin('dcm-shell')], { ...sudoEnv('alice'), SSH_ORIGINAL_COMMAND: 'whoami' });
  assert.equal(shell.code, 7, shell.stderr);
  assert.equal(shell.stderr, `dcm-shell: ${MISSING}\n`);
  // Nothing was made where the default installation would live.
  const made = await inPrivateEtc(
    '',
    ['sh', '-c', `${process.execPath} ${BIN.dcm} whoami 2>/dev/null; ls -A /var/lib/dcm 2>/dev/null | wc -l`],
    sudoEnv('alice'),
  );
  assert.equal(made.stdout.trim(), '0');
});

test('default config in a directory the service account cannot read: dcm-shell stops with one line (exit 7)', async () => {
  // The service account's forced command, run as an unprivileged account: /etc/dcm is root's, mode 700.
  const setup = `mkdir -m 700 /etc/dcm; cp ${env.configFile} ${DEFAULT}`;
  const argv = ['runuser', '-u', 'nobody', '--', process.execPath, doorBin('dcm-shell'), '--user', 'alice', '--state-dir', env.stateDir];
  const r = await inPrivateEtc(setup, argv, {
    SUDO_USER: '',
    DCM_CONFIG: '',
    SSH_CONNECTION: '127.0.0.1 1 127.0.0.1 22',
    SSH_ORIGINAL_COMMAND: 'whoami',
  });
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stderr, `dcm-shell: ${DEFAULT}: cannot read the configuration: permission denied\n`);
});

test('an existing file that cannot be read or parsed stops every door and dcm-server at start (exit 7, one line)', {
  timeout: 240_000,
}, async () => {
  const broken = join(env.stateDir, 'broken');
  mkdirSync(broken, { recursive: true });
  const cases: [string, string, () => void][] = [
    ['invalid YAML', 'not valid YAML: ', () => writeFileSync(join(broken, 'config.yaml'), 'defaults: [unclosed\n')],
    ['a directory', 'cannot read the configuration: it is a directory', () => mkdirSync(join(broken, 'dir.yaml'), { recursive: true })],
    ['a FIFO', 'cannot read the configuration: not a regular file', () => undefined],
    [
      'three schema errors',
      'defaults.limits.memory: ',
      () => writeFileSync(join(broken, 'schema.yaml'), 'defaults:\n  limits: { memory: lots }\n  user: admin\nnot_a_key: 1\n'),
    ],
  ];
  const fifo = join(broken, 'fifo.yaml');
  assert.equal((await run('mkfifo', [fifo])).code, 0);
  const files = {
    'invalid YAML': join(broken, 'config.yaml'),
    'a directory': join(broken, 'dir.yaml'),
    'a FIFO': fifo,
    'three schema errors': join(broken, 'schema.yaml'),
  } as Record<string, string>;
  for (const [name, expect, make] of cases) {
    make();
    const file = files[name]!;
    const e = { ...env.env, DCM_CONFIG: file };
    const doors: [string, string, string[], NodeJS.ProcessEnv][] = [
      ['dcm', process.execPath, [BIN.dcm, '--user', 'alice', 'show'], e],
      [
        'dcm-shell',
        process.execPath,
        [doorBin('dcm-shell'), '--state-dir', env.stateDir, '--config', file],
        { ...e, SUDO_USER: 'alice', SSH_ORIGINAL_COMMAND: 'show' },
      ],
      ['dcm-admin status', process.execPath, [BIN.admin, 'status'], e],
      ['dcm-useradd', process.execPath, [BIN.useradd, 'bob', '--key', alice.pubKey], e],
      ['dcm-userdel', process.execPath, [BIN.userdel, 'alice'], e],
      ['dcm-server', process.execPath, [doorBin('dcm-server'), '--listen', `127.0.0.1:${tp(32150)}`], e],
    ];
    for (const [door, cmd, args, de] of doors) {
      const r = await run(cmd, args, de, 20_000);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(r.code, 7, `${name}, ${door}: ${r.stderr}`);
      assert.equal(lines.length, 1, `${name}, ${door}: ${r.stderr}`);
      assert.ok(lines[0]!.startsWith(`${door}: ${file}: ${expect}`), `${name}, ${door}: ${lines[0]}`);
      if (name === 'three schema errors') assert.match(lines[0]!, /\(and 2 more: dcm-admin policy check lists them all\)$/);
    }
  }
  // Nothing was half-done: alice is still there, bob was never made.
  const users = await env.tool('admin', 'users', 'ls', '--json');
  assert.deepEqual(
    JSON.parse(users.stdout).map((u: { user: string }) => u.user),
    ['alice'],
  );
});

test('dcm-admin policy check lists every problem in a file, one line each, exit 7', async () => {
  const file = join(env.stateDir, 'three.yaml');
  writeFileSync(file, 'defaults:\n  limits: { memory: lots }\n  user: admin\nnot_a_key: 1\n');
  const r = await env.tool('admin', 'policy', 'check', file);
  assert.equal(r.code, 7, r.stderr);
  assert.deepEqual(r.stderr.trim().split('\n'), [
    `dcm-admin policy check: ${file}: defaults.limits.memory: a size like 512m or 4g`,
    `dcm-admin policy check: ${file}: defaults.user: Invalid enum value. Expected 'root' | 'host', received 'admin'`,
    `dcm-admin policy check: ${file}: (top level): Unrecognized key(s) in object: 'not_a_key'`,
  ]);
  // The cross-reference checks report every unknown name too.
  writeFileSync(file, 'groups:\n  g:\n    mounts: { allow: [nope] }\n    presets: [big]\n  h:\n    gpus: { deny: ["7"] }\n');
  const refs = await env.tool('admin', 'policy', 'check', file, '--json');
  assert.equal(refs.code, 7);
  assert.deepEqual(
    JSON.parse(refs.stdout).errors.map((f: { field: string }) => f.field),
    ['groups.g.presets.0', 'groups.g.mounts.allow.0', 'groups.h.gpus.deny.0'],
  );
  // A missing file is a problem to report, not a pass.
  const gone = await env.tool('admin', 'policy', 'check', join(env.stateDir, 'gone.yaml'));
  assert.equal(gone.code, 7);
  assert.equal(
    gone.stderr,
    `dcm-admin policy check: ${join(env.stateDir, 'gone.yaml')}: no configuration file (dcm does not run without one; a file holding {} means the built-in defaults)\n`,
  );
  // The file in use may itself be broken: check still reads it, without needing it to load.
  const inUse = await run(process.execPath, [BIN.admin, 'policy', 'check'], { ...env.env, DCM_CONFIG: file });
  assert.equal(inUse.code, 7);
  assert.equal(inUse.stderr.trim().split('\n').length, 3);
});

test('dcm-server on the default path keeps its last good policy when the file disappears or turns invalid, and logs it', {
  timeout: 120_000,
}, async () => {
  // The server's policy (at /etc/dcm/config.yaml in its namespace) denies the base image;
  // the doors outside run with the test's own config, which does not: a refusal shows the server decided.
  const policy = join(env.stateDir, 'server-policy.yaml');
  writeFileSync(
    policy,
    readFileSync(env.configFile, 'utf8').replace('defaults:\n', 'defaults:\n  images: { deny: ["^dcm/debian-base:.*$"] }\n'),
  );
  const port = tp(32151);
  const [cmd, args] = etc.wrap(`mkdir /etc/dcm; cp ${policy} ${DEFAULT}`, [
    process.execPath,
    doorBin('dcm-server'),
    '--listen',
    `127.0.0.1:${port}`,
    '--state-dir',
    env.stateDir,
  ]);
  const e: NodeJS.ProcessEnv = { ...process.env };
  delete e.DCM_CONFIG;
  delete e.DCM_STATE_DIR;
  const proc = spawn(cmd, args, { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const waitLog = async (re: RegExp) => {
    for (let i = 0; i < 300 && !re.test(log); i++) {
      assert.equal(proc.exitCode, null, log);
      await sleep(50);
    }
    assert.match(log, re);
  };
  const denied = `dcm: image docker.io/${BASE_IMAGE} is not allowed — policy: images.deny "^dcm/debian-base:.*$" (defaults)\n`;
  const refusedEverywhere = async (when: string) => {
    const local = await env.dcm('alice', 'create', BASE_IMAGE);
    assert.equal(local.code, 4, `${when}, dcm: ${local.stderr}`);
    assert.equal(local.stderr, denied, when);
    const shell = await run(process.execPath, [doorBin('dcm-shell'), '--state-dir', env.stateDir], {
      SUDO_USER: 'alice',
      SSH_ORIGINAL_COMMAND: `create ${BASE_IMAGE}`,
    });
    assert.equal(shell.code, 4, `${when}, dcm-shell: ${shell.stderr}`);
    assert.equal(shell.stderr, denied, when);
    const viaSsh = await ssh(alice.keyFile, port, 'alice', ['create', BASE_IMAGE]);
    assert.equal(viaSsh.code, 4, `${when}, ssh: ${viaSsh.stderr}`);
    assert.match(viaSsh.stderr, /images\.deny "\^dcm\/debian-base:\.\*\$" \(defaults\)/, when);
  };
  try {
    await waitLog(/listening on/);
    await refusedEverywhere('at start');

    const [rmCmd, rmArgs] = inNamespaceOf(proc.pid!, ['rm', DEFAULT]);
    assert.equal((await run(rmCmd, rmArgs)).code, 0);
    proc.kill('SIGHUP');
    await waitLog(
      /configuration not reloaded \((file|sighup)\): \/etc\/dcm\/config\.yaml: no configuration file .*\(keeping the previous configuration\)/,
    );
    assert.doesNotMatch(log, /configuration reloaded/);
    await refusedEverywhere('file removed');

    const [wCmd, wArgs] = inNamespaceOf(proc.pid!, ['sh', '-c', `echo 'defaults: [unclosed' > ${DEFAULT}`]);
    assert.equal((await run(wCmd, wArgs)).code, 0);
    proc.kill('SIGHUP');
    await waitLog(/configuration not reloaded \((file|sighup)\): \/etc\/dcm\/config\.yaml: not valid YAML/);
    await refusedEverywhere('file invalid');
    assert.doesNotMatch(log, /configuration reloaded/);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
  }
});
