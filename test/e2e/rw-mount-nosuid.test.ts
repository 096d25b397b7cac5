/**
 * Shared read-write policy mounts on an engine without user namespaces: root
 * in one user's container could leave a setuid-root program on the host
 * filesystem for any host account to run, unless that filesystem is mounted
 * nosuid. Create and `dcm-admin policy check` refuse such a mount (also when
 * the configured source is a link into such a filesystem); a nosuid one is
 * allowed, and `policy check` warns when a rw mount is offered to root logins.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, run } from '../helpers/env.js';
import { tempDir } from '../helpers/tmp.js';
import { mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';

const host = tempDir('dcm-rw-nosuid-');
const suid = join(host, 'suid');
const nosuid = join(host, 'nosuid');
const nested = join(host, 'nested');
mountTmpfs(suid);
mountTmpfs(nosuid, 'nosuid', 'nodev');
// nosuid itself, but Docker binds recursively and brings a setuid-capable mount below along.
mountTmpfs(nested, 'nosuid', 'nodev');
mountTmpfs(join(nested, 'inner'));
mkdirSync(join(suid, 'dir'));
symlinkSync(join(suid, 'dir'), join(nosuid, 'into-suid'));

const mountsYaml = (names: string[]) => {
  const all: Record<string, string> = {
    scratch: `{ source: ${suid}, target: /scratch, mode: rw }`,
    safe: `{ source: ${nosuid}, target: /safe, mode: rw }`,
    docs: `{ source: ${suid}, target: /docs, mode: ro }`,
    linked: `{ source: ${nosuid}/into-suid, target: /linked, mode: rw }`,
    nested: `{ source: ${nested}, target: /nested, mode: rw }`,
  };
  return `mounts:\n${names.map((n) => `  ${n}: ${all[n]}\n`).join('')}`;
};

const env = new TestEnv({
  tag: 'rwnosuid',
  sshPorts: '31760-31779',
  extraYaml: `${mountsYaml(['scratch', 'safe', 'docs', 'linked', 'nested'])}
groups:
  staff: { mounts: { allow: [scratch, safe, docs, linked, nested] } }
`,
});

before(async () => {
  await env.registerBase();
  await env.addUser('alice', '--group', 'staff');
});

after(async () => {
  await env.cleanup();
  unmountTmpfs(suid);
  unmountTmpfs(nosuid);
  unmountTmpfs(join(nested, 'inner'));
  unmountTmpfs(nested);
});

async function engineCount(): Promise<number> {
  const r = await run('docker', ['ps', '-aq', '--filter', `label=dcm.instance=${env.instance}`]);
  return r.stdout.split('\n').filter(Boolean).length;
}

test('create refuses a rw mount whose host filesystem allows setuid (also through a link, or below it); nothing is created', async () => {
  for (const m of ['scratch', 'linked', 'nested']) {
    const r = await env.dcm('alice', 'create', '--mount', m);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(
      r.stderr,
      `dcm: mount ${m} is refused: its host filesystem allows setuid programs; nothing was created (tell the administrator)\n`,
    );
  }
  assert.deepEqual(await env.dcmJson('alice', 'show'), []);
  assert.equal(await engineCount(), 0);
});

test('a rw mount on a nosuid filesystem, and a ro one on any, are allowed', async () => {
  const c = await env.dcmJson('alice', 'create', '--mount', 'safe', '--mount', 'docs');
  const r = await run('docker', ['inspect', '--format', '{{json .HostConfig.Binds}}', env.dockerName(c.id)]);
  const binds = JSON.parse(r.stdout) as string[];
  assert.ok(binds.includes(`${nosuid}:/safe:rw`) && binds.includes(`${suid}:/docs:ro`), r.stdout);
  await env.dcm('alice', 'rm', '-f', String(c.id));
});

test('policy check: exit 7 naming a rw mount without nosuid; warns when a rw mount is offered to root logins', async () => {
  const bad = join(env.stateDir, 'bad.yaml');
  writeFileSync(bad, `${mountsYaml(['scratch'])}defaults:\n  mounts: { allow: [scratch] }\n`);
  const r = await env.tool('admin', 'policy', 'check', bad);
  assert.equal(r.code, 7, r.stderr);
  assert.equal(
    r.stderr,
    `dcm-admin policy check: ${bad}: mounts.scratch: rw, but ${suid} is on ${suid}, mounted without nosuid: users who are root in their containers could leave setuid-root programs there; mount it nosuid, make it ro, or run the engine with userns-remap
dcm-admin policy check: ${bad}: warning: mounts.scratch: read-write and offered by defaults, whose users log in as root: each of them can read and change the others' files there (set user: host for them, or make the mount ro)\n`,
  );

  const good = join(env.stateDir, 'good.yaml');
  writeFileSync(
    good,
    `${mountsYaml(['safe', 'docs'])}groups:
  staff: { mounts: { allow: [safe, docs] } }
  hosted: { user: host, mounts: { allow: [safe] } }
`,
  );
  const ok = await env.tool('admin', 'policy', 'check', good);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(
    ok.stderr,
    `dcm-admin policy check: ${good}: warning: mounts.safe: read-write and offered by groups.staff, whose users log in as root: each of them can read and change the others' files there (set user: host for them, or make the mount ro)\n`,
  );
  assert.equal(ok.stdout, `${good}: ok (2 groups, 0 users, 0 presets, 2 mounts, 0 gpus), 1 warning(s)\n`);
});
