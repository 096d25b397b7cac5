/**
 * Command grants, templated and default mounts, version and create --dry-run
 * on the command core with a fake engine: the policy merge (deny wins over
 * every allow, the built-in table decides the rest), the file's validation,
 * what help, completion and the refusal say, and that a dry run makes
 * nothing. The doors and the real engine are in test/e2e/grants-doors and
 * test/e2e/mount-templates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import { Store } from '../../src/store/store.js';
import { assemble } from '../../src/main.js';
import type { Deps } from '../../src/manager/deps.js';
import { commandGrant, effectivePolicy, grantedCommands } from '../../src/policy/effective.js';
import { COMMAND_ALIASES, COMMAND_DEFAULTS, GRANTABLE_COMMANDS } from '../../src/policy/command-grants.js';
import { COMMANDS } from '../../src/shell/commands/index.js';
import { makeCompleter } from '../../src/shell/completer.js';
import { policyRows } from '../../src/policy/policy-report.js';
import { expandSource, fixedParent, templateProblem } from '../../src/policy/mount-template.js';
import { decide, type Decision, type Refusal } from '../../src/policy/decide.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';
const cfgOf = (raw: Record<string, unknown>) => resolveConfig(raw, '/tmp/dcm-grants-unit', null);

const LAYERS = {
  defaults: { commands: { deny: ['commit'] } },
  groups: {
    students: { commands: { deny: ['rmi', 'logs'] } },
    staff: { commands: { allow: ['commit', 'logs'] } },
  },
  users: { alice: { commands: { allow: ['rmi'] } } },
};

test('grants merge: allow and deny accumulate over the layers, and a deny in any layer wins over every allow', () => {
  const cfg = cfgOf(LAYERS);
  const alice = effectivePolicy(cfg, 'alice', ['staff', 'students']);
  // commit: denied by defaults, allowed by staff → denied; logs: denied by students, allowed by staff → denied;
  // rmi: denied by students, allowed by alice → denied; everything else: the built-in table (run is off there).
  assert.deepEqual(commandGrant(alice, 'commit'), { granted: false, from: 'defaults', rule: 'commands.deny "commit" (defaults)' });
  assert.deepEqual(commandGrant(alice, 'logs'), { granted: false, from: 'group students', rule: 'commands.deny "logs" (group students)' });
  assert.deepEqual(commandGrant(alice, 'rmi'), { granted: false, from: 'group students', rule: 'commands.deny "rmi" (group students)' });
  assert.deepEqual(commandGrant(alice, 'show'), { granted: true, from: 'built-in' });
  assert.deepEqual(
    grantedCommands(alice),
    GRANTABLE_COMMANDS.filter((c) => !['commit', 'logs', 'rmi', 'run'].includes(c)),
  );
  // Only staff: its allow of logs stands (nothing denies it), commit stays denied by defaults.
  const bob = effectivePolicy(cfg, 'bob', ['staff']);
  assert.deepEqual(commandGrant(bob, 'logs'), { granted: true, from: 'group staff' });
  assert.equal(commandGrant(bob, 'commit').granted, false);
  // help is always there; a name the table does not know never is.
  assert.deepEqual(commandGrant(bob, 'help'), { granted: true, from: 'built-in' });
  assert.equal(commandGrant(bob, 'docker').granted, false);
  // dcm-admin policy show: one row per command, with the layer that decided.
  const rows = policyRows(alice).filter((r) => r.field.startsWith('commands.'));
  assert.equal(rows.length, GRANTABLE_COMMANDS.length);
  assert.deepEqual(
    rows.find((r) => r.field === 'commands.rmi'),
    { field: 'commands.rmi', value: 'not granted', from: 'group students' },
  );
});

test('a command off by default in the table is there only where a layer allows it, and a deny still wins', () => {
  const table = COMMAND_DEFAULTS;
  assert.equal(table.run, false);
  const cfg = { commands: { allow: [] as { value: string; from: string }[], deny: [] as { value: string; from: string }[] } };
  assert.deepEqual(commandGrant(cfg, 'run', table), {
    granted: false,
    from: 'built-in',
    rule: 'commands.allow: run is off unless a layer allows it (built-in)',
  });
  cfg.commands.allow.push({ value: 'run', from: 'group hpc' });
  assert.deepEqual(commandGrant(cfg, 'run', table), { granted: true, from: 'group hpc' });
  cfg.commands.deny.push({ value: 'run', from: 'user bob' });
  assert.equal(commandGrant(cfg, 'run', table).granted, false);
});

test('the grant table and the command table name the same commands (help aside), with the same aliases', () => {
  assert.deepEqual(
    COMMANDS.map((c) => c.name)
      .filter((n) => n !== 'help')
      .sort(),
    [...GRANTABLE_COMMANDS].sort(),
  );
  const aliases = Object.fromEntries(COMMANDS.flatMap((c) => (c.aliases ?? []).map((a) => [a, c.name])));
  assert.deepEqual(aliases, { ...COMMAND_ALIASES });
  // Every command is granted by default but run (load and pull will join it): they run or bring images of the user's choosing.
  assert.deepEqual(
    Object.entries(COMMAND_DEFAULTS)
      .filter(([, on]) => !on)
      .map(([c]) => c),
    ['run'],
  );
});

test('the policy file is refused at load for a command name it does not know, with one line naming the field', () => {
  const load = (deny: string[]) => () => cfgOf({ groups: { students: { commands: { deny } } } });
  assert.throws(load(['commit', 'docker']), {
    message:
      'config: groups.students.commands.deny.1: unknown command "docker": one of create, run, show, start, stop, restart, pause, unpause, rm, logs, attach, wait, exec, commit, images, rmi, gpus, whoami, version',
  });
  assert.throws(load(['ps']), { message: 'config: groups.students.commands.deny.0: ps is another name for show: write show' });
  assert.throws(load(['help']), {
    message: 'config: groups.students.commands.deny.0: help is always available and cannot be granted or denied',
  });
  assert.throws(() => cfgOf({ users: { a: { commands: { grant: ['x'] } } } }), {
    message: /^config: users\.a\.commands: Unrecognized key/,
  });
  assert.doesNotThrow(load(['commit', 'rmi']));
});

function setup(raw: Record<string, unknown>) {
  const dir = tempDir('dcm-grants-');
  const config = resolveConfig(
    { instance: 'grants', host: 'dcm.test', network: { ssh_ports: '20000-20009', ip_aliases: ['127.0.0.1'] }, ...raw },
    dir,
    null,
  );
  const store = Store.open(config.dbFile);
  const engine = new FakeEngine();
  const deps: Deps = { store, engine, config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  const baseId = engine.addImage('dcm/debian-base:bookworm');
  store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: baseId, owner: null, source: null });
  const parts = assemble(deps);
  parts.users.add({ name: 'alice', keys: [KEY], groups: ['students'] });
  parts.users.add({ name: 'bob', keys: [KEY], groups: [] });
  return { deps, engine, store, core: parts.core };
}

test('the core: a command not granted is absent from help and completion, and using it is refused with exit 4', async () => {
  const t = setup(LAYERS);
  const help = await t.core.run('alice', ['help']);
  assert.equal(help.code, 0);
  for (const hidden of ['commit', 'logs', 'rmi']) assert.doesNotMatch(help.stdout, new RegExp(`^  ${hidden} `, 'm'));
  assert.match(help.stdout, /^ {2}create /m);
  const listed = JSON.parse((await t.core.run('alice', ['help', '--json'])).stdout) as { name: string }[];
  assert.deepEqual(
    listed.map((c) => c.name),
    [
      'create',
      'show',
      'start',
      'stop',
      'restart',
      'pause',
      'unpause',
      'rm',
      'attach',
      'wait',
      'exec',
      'images',
      'gpus',
      'whoami',
      'version',
      'help',
    ],
  );
  assert.deepEqual(await t.core.run('alice', ['help', 'commit']), {
    code: 0,
    stdout: 'command commit is not available to you\n',
    stderr: '',
  });
  // Using it, its --help included: one line, exit 4 (EXIT.denied), before its arguments are even read.
  for (const words of [['commit', '20000', 'x'], ['commit'], ['commit', '--help'], ['logs', '--bogus']]) {
    const r = await t.core.run('alice', words);
    assert.deepEqual(r, {
      code: 4,
      stdout: '',
      stderr: `dcm: command ${words[0]} is not available to you — policy: commands.deny "${words[0]}" (${words[0] === 'commit' ? 'defaults' : 'group students'})\n`,
    });
  }
  const j = await t.core.run('alice', ['rmi', 'x', '--json']);
  assert.equal(j.code, 4);
  assert.deepEqual(JSON.parse(j.stdout), { error: 'command rmi is not available to you — policy: commands.deny "rmi" (group students)' });
  // bob (no group): rmi and logs are his, commit is not (defaults).
  assert.match((await t.core.run('bob', ['help'])).stdout, /^ {2}rmi /m);
  assert.equal((await t.core.run('bob', ['commit', '1', 'x'])).code, 4);
  // Completion: only granted commands, and nothing for a hidden one's objects or flags.
  const complete = makeCompleter(t.store, 'alice', (c) => t.core.grant('alice', c).granted);
  assert.deepEqual(complete('r')[0], ['restart', 'rm']);
  assert.deepEqual(complete('co')[0], []);
  assert.deepEqual(complete('commit --')[0], []);
  assert.deepEqual(complete('help l')[0], []);
  assert.deepEqual(complete('help r')[0], ['restart', 'rm']);
  // The core's help for a door that asks before running anything (dcm help).
  assert.doesNotMatch(t.core.helpFor('alice'), /\bcommit\b/);
  assert.equal(t.core.helpFor('alice', 'logs'), 'command logs is not available to you');
});

test('show --gpus, another way to the GPU listing, is refused where gpus is not granted', async () => {
  const t = setup({ groups: { students: { commands: { deny: ['gpus'] } } } });
  assert.deepEqual(await t.core.run('alice', ['show', '--gpus']), {
    code: 4,
    stdout: '',
    stderr: 'dcm: show --gpus is not available to you: the policy does not grant gpus\n',
  });
  assert.equal((await t.core.run('bob', ['show', '--gpus'])).code, 0, 'bob, not a student, has gpus');
});

test('version: dcm and the engine; an engine that does not answer is said on its line, exit 0', async () => {
  const t = setup({});
  const r = await t.core.run('bob', ['version']);
  assert.equal(r.code, 0, r.stderr);
  const pkg = (await import('../../src/version.js')).dcmVersion();
  assert.match(pkg, /^\d+\.\d+\.\d+/);
  assert.equal(r.stdout, `dcm ${pkg}\nengine fake-1.0 (Engine API 1.41)\n`);
  t.engine.failNext.add('version');
  const down = await t.core.run('bob', ['version', '--json']);
  assert.equal(down.code, 0);
  assert.deepEqual(JSON.parse(down.stdout), {
    dcm: pkg,
    engine: null,
    engineError: 'version failed (fake)',
    engineAsked: true,
  });
  // Deniable like any other command.
  const off = setup({ defaults: { commands: { deny: ['version'] } } });
  assert.equal((await off.core.run('bob', ['version'])).code, 4);
});

test('create --dry-run prints the engine request and makes nothing: no row, no port, no network, no engine container', async () => {
  const t = setup({});
  const cursor = t.store.sshPortCursor.read();
  const r = await t.core.run('bob', ['create', '--name', 'lab', '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  const req = JSON.parse(r.stdout);
  assert.equal(req.method, 'POST');
  assert.match(req.path, /^\/containers\/create\?name=grants-[0-9a-f]{8}-20000$/);
  assert.match(r.stderr, /^dry run: SSH port 20000 on 127\.0\.0\.1 is the one a create would take now/m);
  assert.match(r.stderr, /^dry run: your network is made at your first create/m);
  assert.equal(t.store.containers.byOwner('bob').length, 0);
  assert.equal(t.store.sshPortCursor.read(), cursor);
  assert.equal(t.store.networks.active('bob'), undefined);
  assert.equal(t.engine.containers.size, 0);
  assert.equal(t.engine.networks.size, 0);
  // --json: the request and the notes; a refusal is the create's own.
  const j = JSON.parse((await t.core.run('bob', ['create', '--dry-run', '--json'])).stdout);
  assert.deepEqual(Object.keys(j), ['request', 'notes']);
  const bad = await t.core.run('bob', ['create', '--dry-run', '--mount', 'nope']);
  assert.equal(bad.code, 4);
  assert.match(bad.stderr, /^dcm: mount "nope" is not offered to you/);
});

const user = { name: 'alice', uid: 1234, gid: 1235, home: '/home/alice' };
const vars = { user: 'alice', uid: 1234, gid: 1235, home: '/home/alice' as string | null };

test('templated mount sources: the values are checked, and no value can lead a source out of its directory', () => {
  assert.deepEqual(expandSource('/home/{user}', { user: 'alice', uid: 1, gid: 2, home: null }), { path: '/home/alice' });
  assert.deepEqual(expandSource('/scratch/{uid}-{gid}/x', { user: 'a', uid: 1234, gid: 99, home: null }), { path: '/scratch/1234-99/x' });
  assert.deepEqual(expandSource('{home}/data', { ...vars }), { path: '/home/alice/data' });
  assert.deepEqual(expandSource('/plain', { ...vars, home: null }), { path: '/plain' });
  // Names that would climb or add components never pass, whatever let them in.
  for (const bad of ['..', '.', 'a/b', '../etc', '', 'a\0b'])
    assert.deepEqual(expandSource('/home/{user}', { ...vars, user: bad }), { error: 'your user cannot be part of a path' });
  for (const home of ['/', '/home/../etc', 'relative', '/home//alice', '/a:b', null]) {
    const r = expandSource('{home}/x', { ...vars, home });
    assert.ok('error' in r, `${home} refused`);
  }
  assert.deepEqual(expandSource('{home}', { ...vars, home: null }), {
    error: 'it uses your host home directory, and you have no host account of your own',
  });
  assert.equal(templateProblem('/home/{user}'), null);
  assert.equal(templateProblem('/x/{name}'), 'unknown placeholder {name}: use {user}, {uid}, {gid} or {home}');
  assert.equal(templateProblem('/x/{user'), 'a "{" or "}" that is not part of {user}, {uid}, {gid} or {home}');
  assert.equal(templateProblem('/x/{home}'), '{home} may only stand at the start, as in {home}/data');
  assert.equal(fixedParent('/home/{user}'), '/home');
  assert.equal(fixedParent('/srv/u-{uid}/x'), '/srv');
  assert.equal(fixedParent('/{user}'), '/');
  assert.equal(fixedParent('{home}/x'), null);
  // The file: placeholders in a source are checked at load; the target takes none.
  assert.throws(() => cfgOf({ mounts: { h: { source: '/home/{usr}', target: '/h' } } }), {
    message: 'config: mounts.h.source: unknown placeholder {usr}: use {user}, {uid}, {gid} or {home}',
  });
  assert.throws(() => cfgOf({ mounts: { h: { source: '/x/{user}/../..', target: '/h' } } }), {
    message: 'config: mounts.h.source: must not contain ".."',
  });
  assert.throws(() => cfgOf({ mounts: { h: { source: '/x/{user}', target: '/h/{user}' } } }), {
    message: 'config: mounts.h.target: {user}, {uid}, {gid} and {home} are for the source only',
  });
});

test('default mounts, --no-default-mounts and a mode asked per mount: ro on any mount, never rw on a ro one', () => {
  const cfg = cfgOf({
    mounts: {
      home: { source: '/home/{user}', target: '/host-home', mode: 'rw', default: true },
      data: { source: '/srv/data', target: '/data', mode: 'ro' },
      scratch: { source: '/scratch/{uid}', target: '/scratch', mode: 'rw' },
      tools: { source: '/opt/tools', target: '/tools', default: true },
    },
    defaults: { mounts: { allow: ['home', 'data', 'scratch'] } },
    groups: { nohome: { mounts: { deny: ['home'] } } },
  });
  const usage = { containers: 0, running: 0, memoryBytes: 0, cpus: 0, gpusInUse: [] };
  const ask = (req: Record<string, unknown>, groups: string[] = []) =>
    decide({ image: { ref: 'dcm/debian-base:bookworm', own: false }, ...req }, user, groups, usage, cfg);
  const mounts = (d: Decision | Refusal) => (d.ok ? d.mounts.map((m) => `${m.name}:${m.source}:${m.readOnly ? 'ro' : 'rw'}`) : d.message);
  // A default mount comes only where it is offered (tools is default but not in mounts.allow).
  assert.deepEqual(mounts(ask({})), ['home:/home/alice:rw']);
  assert.deepEqual(mounts(ask({ defaultMounts: false })), []);
  assert.deepEqual(mounts(ask({ defaultMounts: false, mounts: ['home'] })), ['home:/home/alice:rw']);
  assert.deepEqual(mounts(ask({}, ['nohome'])), []);
  assert.deepEqual(mounts(ask({ mounts: ['scratch', 'data'], mountModes: { scratch: 'ro', home: 'ro' } })), [
    'home:/home/alice:ro',
    'scratch:/scratch/1234:ro',
    'data:/srv/data:ro',
  ]);
  assert.deepEqual(mounts(ask({ mounts: ['scratch'], mountModes: { scratch: 'rw' } })), [
    'home:/home/alice:rw',
    'scratch:/scratch/1234:rw',
  ]);
  const up = ask({ mounts: ['data'], mountModes: { data: 'rw' } });
  assert.deepEqual(up.ok ? null : [up.code, up.message], [
    'denied',
    'mount "data" is read-only: it cannot be mounted read-write — policy: mounts.data.mode ro',
  ]);
  const stray = ask({ mountModes: { data: 'ro' } });
  assert.equal(stray.ok ? null : stray.message, 'mount "data" is not one of this container\'s mounts — policy: mounts');
  // A user whose name cannot be part of a path gets no templated mount (and nothing else).
  const odd = decide({ image: { ref: 'dcm/debian-base:bookworm', own: false } }, { ...user, name: '..' }, [], usage, cfg);
  assert.equal(
    odd.ok ? null : odd.message,
    'mount "home" cannot be made for you: your user cannot be part of a path — policy: mounts.home.source',
  );
});
