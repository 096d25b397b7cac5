/**
 * Admin policy end to end on the real engine: for each rule, create through the
 * `dcm` door and inspect the container: capabilities, login identity, env,
 * mounts and their modes, limits, devices and published ports are exactly what
 * the policy says and nothing else; each refusal names its rule and leaves
 * nothing behind.
 */
import { tp, tpRange } from '../helpers/ports.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TestEnv, dockerInspect, run, sshInto, type TestUser } from '../helpers/env.js';
import { BASE_CAPABILITIES } from '../../src/policy/capabilities.js';
import { mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';

const host = mkdtempSync(join(tmpdir(), 'dcm-policy-mounts-'));
for (const d of ['data', 'scratch', 'tools']) mkdirSync(join(host, d));
// A shared rw mount must sit on a nosuid filesystem (see rw-mount-nosuid.test.ts).
mountTmpfs(join(host, 'scratch'), 'nosuid', 'nodev');

const env = new TestEnv({
  tag: 'polrules',
  sshPorts: '33000-33049',
  ipAliases: ['127.0.0.1', '127.0.0.2'],
  extraYaml: `
mounts:
  data: { source: ${host}/data, target: /data, mode: ro }
  scratch: { source: ${host}/scratch, target: /scratch, mode: rw }
  tools: { source: ${host}/tools, target: /opt/tools }
  gone: { source: ${host}/missing, target: /gone }
presets:
  big: { description: more of everything, memory: 512m, cpus: 1.5, pids: 300, mounts: [data], ports: "${tpRange('33050-33059')}" }
defaults:
  limits: { memory: 256m, cpus: 0.5, pids: 200, max_containers: 3 }
  mounts: { always: [tools] }
  env: { TZ: UTC, SITE: defaults }
  ports: { extra: "40000-40099", max_extra: 2 }
groups:
  students:
    images: { deny: ["^dcm/debian-base:.*$"] }
  staff:
    presets: [big]
    mounts: { allow: [data, scratch, gone] }
    cap_add: [SYS_PTRACE]
    env: { SITE: staff }
    images: { max_own: 1 }
    limits: { max_running: 2 }
  hosted:
    user: host
    ports: { ip_aliases: ["127.0.0.2"], ssh: "${tpRange('33040-33049')}" }
    images: { own: false }
    limits: { total_memory: 400m }
`,
});
let carol: TestUser;

// One staff user per test that creates containers, so that no test counts on
// what another left behind (limits and usage are per user).
let dora: TestUser;

before(async () => {
  await env.registerBase();
  await env.addUser('alice', '--group', 'staff');
  await env.addUser('bob', '--group', 'students');
  carol = await env.addUser('carol', '--group', 'hosted');
  dora = await env.addUser('dora', '--group', 'staff');
  for (const u of ['erin', 'fred', 'gina']) await env.addUser(u, '--group', 'staff');
});
after(async () => {
  await env.cleanup();
  unmountTmpfs(join(host, 'scratch'));
  rmSync(host, { recursive: true, force: true });
});

/** Containers of this test file in the engine. */
async function engineCount(): Promise<number> {
  const r = await run('docker', ['ps', '-aq', '--filter', `label=dcm.instance=${env.instance}`]);
  return r.stdout.split('\n').filter(Boolean).length;
}

/** A refused create: exit code, the rule in the one stderr line, nothing left behind. */
async function refused(user: string, args: string[], rule: string, code: number): Promise<void> {
  const before = await engineCount();
  const rows = (await env.dcmJson(user, 'show')).length;
  const r = await env.dcm(user, 'create', ...args);
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(r.stderr.includes(rule), `expected "${rule}" in: ${r.stderr}`);
  assert.equal(await engineCount(), before, 'no container left in the engine');
  assert.equal((await env.dcmJson(user, 'show')).length, rows, 'no row left');
}

const sorted = (a: string[] | null | undefined) => [...(a ?? [])].sort();

test('an image denied for a group is refused with the rule, nothing created', async () => {
  await refused('bob', [], 'policy: images.deny "^dcm/debian-base:.*$" (group students)', 4);
});

test('defaults and group layers: caps, env, limits, mounts and ports are exactly the policy', async () => {
  const c = await env.dcmJson('alice', 'create', '--name', 'plain');
  const i = await dockerInspect(env.dockerName(c.id));
  assert.ok(i, 'container exists');
  const hc = i.HostConfig;
  assert.deepEqual(hc.CapDrop, ['ALL']);
  assert.deepEqual(sorted(hc.CapAdd), sorted([...BASE_CAPABILITIES, 'SYS_PTRACE']));
  assert.deepEqual(hc.SecurityOpt, ['no-new-privileges:true']);
  assert.equal(hc.Privileged, false);
  assert.equal(hc.Memory, 256 * 1024 ** 2);
  assert.equal(hc.NanoCpus, 0.5e9);
  assert.equal(hc.PidsLimit, 200);
  assert.deepEqual(hc.Devices ?? [], []);
  assert.equal(i.Config.User, '');
  const env_ = (i.Config.Env as string[]).filter((e) => !e.startsWith('PATH='));
  assert.deepEqual(sorted(env_.filter((e) => !e.startsWith('DCM_'))), ['NVIDIA_VISIBLE_DEVICES=void', 'SITE=staff', 'TZ=UTC']);
  assert.deepEqual(sorted(env_.filter((e) => e.startsWith('DCM_')).map((e) => e.split('=')[0]!)), [
    'DCM_GID',
    'DCM_INSTANCE',
    'DCM_UID',
    'DCM_USER',
  ]);
  assert.deepEqual(
    sorted(hc.Binds),
    sorted([
      `${env.stateDir}/storage/alice/root:/root:rw`,
      `${env.stateDir}/storage/alice/home:/home/alice:rw`,
      `${join(ROOT, 'images', 'dcm-init.sh')}:/usr/local/lib/dcm/init:ro`,
      `${host}/tools:/opt/tools:ro`,
    ]),
  );
  assert.deepEqual(Object.keys(hc.PortBindings), ['22/tcp']);
  assert.deepEqual(hc.PortBindings['22/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(c.sshPort) }]);
  assert.ok(c.sshPort < tp(33040), 'other groups keep the whole range');
});

test('a preset with a mount on request: limits, modes and ports as granted; ro really is read-only', async () => {
  await refused('dora', ['--mount', 'gone'], 'mount gone is unavailable: its host path does not exist; nothing was created', 6);
  const c = await env.dcmJson('dora', 'create', '--preset', 'big', '--mount', 'scratch', '-p', String(tp(33051)), '--name', 'big');
  const i = await dockerInspect(env.dockerName(c.id));
  const hc = i.HostConfig;
  assert.equal(hc.Memory, 512 * 1024 ** 2);
  assert.equal(hc.NanoCpus, 1.5e9);
  assert.equal(hc.PidsLimit, 300);
  const policyBinds = (hc.Binds as string[]).filter((b) => b.startsWith(host)).sort();
  assert.deepEqual(policyBinds, [`${host}/data:/data:ro`, `${host}/scratch:/scratch:rw`, `${host}/tools:/opt/tools:ro`]);
  assert.deepEqual(Object.keys(hc.PortBindings).sort(), ['22/tcp', `${tp(33051)}/tcp`]);
  assert.deepEqual(hc.PortBindings[`${tp(33051)}/tcp`], [{ HostIp: '127.0.0.1', HostPort: String(tp(33051)) }]);
  const r = await sshInto(
    dora.keyFile,
    'root',
    '127.0.0.1',
    c.sshPort,
    'touch /data/x 2>/dev/null && echo data-rw || echo data-ro; touch /scratch/y && echo scratch-rw',
  );
  assert.deepEqual(r.stdout.trim().split('\n'), ['data-ro', 'scratch-rw'], r.stderr);
  const who = await env.dcmJson('dora', 'whoami');
  assert.deepEqual(
    who.presets.map((p: { name: string }) => p.name),
    ['big'],
  );
  assert.equal(who.usage.memoryBytes, 512 * 1024 ** 2, "the preset's memory is all this user uses");
});

test('refusals name their rule: preset, mount, ports, missing host path', async () => {
  await refused('erin', ['--preset', 'nope'], 'policy: presets', 4);
  await refused('carol', ['--mount', 'data'], 'policy: mounts.allow', 4);
  await refused('erin', ['-p', '8080'], 'policy: ports.extra 40000-40099 (defaults)', 4);
  await refused('erin', ['-p', '40001', '-p', '40002', '-p', '40003'], 'policy: ports.max_extra 2 (defaults)', 5);
  await refused('erin', ['--preset', 'big', '-p', '40001'], `policy: ports.extra ${tpRange('33050-33059')} (preset big)`, 4);
});

test('max running is checked at create and at start; max containers at create', async () => {
  const [plain] = await Promise.all([env.dcmJson('fred', 'create', '--name', 'plain'), env.dcmJson('fred', 'create', '--name', 'second')]);
  // 2 running of max_running 2 (group staff).
  await refused('fred', [], 'policy: limits.max_running 2 (group staff)', 5);
  await env.dcmJson('fred', 'stop', String(plain.id));
  const third = await env.dcmJson('fred', 'create', '--name', 'third');
  assert.equal(third.state, 'running');
  const start = await env.dcm('fred', 'start', String(plain.id));
  assert.equal(start.code, 5, start.stderr);
  assert.match(start.stderr, /2 of 2 running containers allowed.*policy: limits\.max_running 2 \(group staff\)/);
  await refused('fred', [], 'policy: limits.max_containers 3 (defaults)', 5);
  assert.match((await env.dcm('fred', 'create')).stderr, /you have 3 of 3 containers allowed/);
  await env.dcmJson('fred', 'rm', '-f', 'third');
  const again = await env.dcm('fred', 'start', String(plain.id));
  assert.equal(again.code, 0, again.stderr);
});

test('images per user are limited at commit', async () => {
  await env.dcmJson('gina', 'create', '--name', 'plain');
  const one = await env.dcm('gina', 'commit', 'plain', 'snap:1');
  assert.equal(one.code, 0, one.stderr);
  const two = await env.dcm('gina', 'commit', 'plain', 'snap:2');
  assert.equal(two.code, 5);
  assert.match(two.stderr, /you have 1 of 1 images allowed.*policy: images\.max_own 1 \(group staff\)/);
});

test('forced host identity: no root login, sessions run as the user; own images and total memory per group', async () => {
  const made = await env.dcm('carol', 'create', '--name', 'h');
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /ssh -p \d+ carol@127\.0\.0\.2/);
  assert.doesNotMatch(made.stdout, /root@/);
  const c = (await env.dcmJson('carol', 'show'))[0];
  const i = await dockerInspect(env.dockerName(c.id));
  assert.ok(!(i.HostConfig.Binds as string[]).some((b) => b.endsWith(':/root:rw')), 'no /root storage');
  // The group's address and SSH range.
  assert.ok(c.sshPort >= tp(33040) && c.sshPort <= tp(33049), String(c.sshPort));
  assert.deepEqual(i.HostConfig.PortBindings, { '22/tcp': [{ HostIp: '127.0.0.2', HostPort: String(c.sshPort) }] });
  const asUser = await sshInto(carol.keyFile, 'carol', '127.0.0.2', c.sshPort, 'id -u');
  assert.equal(asUser.code, 0, asUser.stderr);
  const who = await env.dcmJson('carol', 'whoami');
  assert.equal(asUser.stdout.trim(), String(who.uid));
  const asRoot = await sshInto(carol.keyFile, 'root', '127.0.0.2', c.sshPort, 'id -u');
  assert.equal(asRoot.code, 255, 'root login must fail');
  assert.match(asRoot.stderr, /root@127\.0\.0\.2: Permission denied \(publickey/);
  // 256m used of 400m: a second 256m container would exceed the group's total.
  await refused('carol', [], 'policy: limits.total_memory 400m (group hosted)', 5);
  const commit = await env.dcm('carol', 'commit', 'h', 'mine:1');
  assert.equal(commit.code, 0, commit.stderr);
  await env.dcmJson('carol', 'rm', '-f', 'h');
  await refused('carol', ['mine:1'], 'policy: images.own false (group hosted)', 4);
});

test('dcm-admin policy show and check', async () => {
  const s = await env.tool('admin', 'policy', 'show', 'alice', '--json');
  assert.equal(s.code, 0, s.stderr);
  const rows = JSON.parse(s.stdout).rows as { field: string; value: string; from: string }[];
  assert.deepEqual(
    rows.find((r) => r.field === 'limits.max_running'),
    { field: 'limits.max_running', value: '2', from: 'group staff' },
  );
  assert.deepEqual(
    rows.find((r) => r.field === 'limits.max_containers'),
    { field: 'limits.max_containers', value: '3', from: 'defaults' },
  );
  assert.deepEqual(
    rows.find((r) => r.field === 'env.SITE'),
    { field: 'env.SITE', value: '"staff"', from: 'group staff' },
  );
  const ok = await env.tool('admin', 'policy', 'check');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /: ok \(3 groups, 0 users, 1 presets, 4 mounts, 0 gpus\)/);
  const bad = join(env.stateDir, 'bad.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(bad, 'groups:\n  g:\n    mounts: { allow: [nope] }\n');
  const r = await env.tool('admin', 'policy', 'check', bad);
  assert.equal(r.code, 7);
  assert.equal(r.stderr.trim(), `dcm-admin policy check: ${bad}: groups.g.mounts.allow.0: unknown mount "nope": none are declared`);
});
