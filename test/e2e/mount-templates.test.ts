/**
 * Templated and default catalogue mounts, a mount asked read-only, and
 * create --dry-run, on the real engine through the `dcm` door: the binds the
 * engine holds are each user's own directory, a default mount comes unless
 * --no-default-mounts, `NAME:ro` really is read-only inside and `NAME:rw` on a
 * read-only mount is refused; the mount probes (missing source, setuid
 * filesystem under a rw template) still refuse with nothing made; a dry run
 * prints the request a create then really sends, and makes nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, dockerInspect, run, sshInto, type TestUser } from '../helpers/env.js';
import { mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';

const host = mkdtempSync(join(tmpdir(), 'dcm-mount-templates-'));
// rw mounts must sit on nosuid filesystems: homes and data do; "unsafe" allows setuid programs.
mountTmpfs(join(host, 'safe'), 'nosuid', 'nodev');
mountTmpfs(join(host, 'unsafe'));
for (const d of ['homes/alice', 'homes/carol', 'data']) mkdirSync(join(host, 'safe', d), { recursive: true });
mkdirSync(join(host, 'unsafe', 'carol'));

const env = new TestEnv({
  tag: 'mnttpl',
  sshPorts: '30030-30049',
  extraYaml: `
mounts:
  home: { source: "${host}/safe/homes/{user}", target: /host-home, mode: rw, default: true }
  data: { source: "${host}/safe/data", target: /data, mode: rw }
  ref:  { source: "${host}/safe/data", target: /ref, mode: ro }
  own:  { source: "${host}/unsafe/{user}", target: /own, mode: rw }
defaults:
  limits: { memory: 256m, cpus: 0.5, pids: 200, max_containers: 4 }
  mounts: { allow: [home, data, ref, own] }
`,
});
let alice: TestUser;

before(async () => {
  await env.registerBase();
  alice = await env.addUser('alice');
  await env.addUser('bob');
  await env.addUser('carol');
});
after(async () => {
  await env.cleanup();
  unmountTmpfs(join(host, 'safe'));
  unmountTmpfs(join(host, 'unsafe'));
  rmSync(host, { recursive: true, force: true });
});

/** Containers, networks and rows of this installation. */
async function made(user: string): Promise<{ containers: number; networks: number; rows: number }> {
  const count = async (args: string[]) => (await run('docker', args)).stdout.split('\n').filter(Boolean).length;
  return {
    containers: await count(['ps', '-aq', '--filter', `label=dcm.instance=${env.instance}`]),
    networks: await count(['network', 'ls', '-q', '--filter', `label=dcm.instance=${env.instance}`]),
    rows: (await env.dcmJson(user, 'show')).length,
  };
}

const policyBinds = (binds: string[]) => binds.filter((b) => b.startsWith(host)).sort();

test('create --dry-run prints the exact request and makes nothing; the create that follows sends it', async () => {
  const before = await made('alice');
  const r = await env.dcm('alice', 'create', '--name', 'lab', '--mount', 'data:ro', '--dry-run');
  assert.equal(r.code, 0, r.stderr);
  const req = JSON.parse(r.stdout);
  assert.equal(req.method, 'POST');
  assert.match(req.path, new RegExp(`^/containers/create\\?name=${env.instance}-[0-9a-f]{8}-\\d+$`));
  assert.deepEqual(policyBinds(req.body.HostConfig.Binds), [`${host}/safe/data:/data:ro`, `${host}/safe/homes/alice:/host-home:rw`]);
  assert.deepEqual(req.body.HostConfig.CapDrop, ['ALL']);
  assert.match(r.stderr, /^dry run: SSH port \d+ on 127\.0\.0\.1 is the one a create would take now/m);
  assert.deepEqual(await made('alice'), before, 'no container, network or row');
  assert.equal((await env.dcm('alice', 'create', '--dry-run', '--json')).code, 0);

  // The real create sends that request: same binds, limits, labels, ports and name.
  const c = await env.dcmJson('alice', 'create', '--name', 'lab', '--mount', 'data:ro');
  const i = await dockerInspect(env.dockerName(c.id));
  assert.equal(`/containers/create?name=${i.Name.slice(1)}`, req.path);
  assert.deepEqual(policyBinds(i.HostConfig.Binds), policyBinds(req.body.HostConfig.Binds));
  assert.deepEqual(i.HostConfig.PortBindings, req.body.HostConfig.PortBindings);
  assert.equal(i.HostConfig.Memory, req.body.HostConfig.Memory);
  for (const [k, v] of Object.entries(req.body.Labels)) assert.equal(i.Config.Labels[k], v, `label ${k}`);
  // Inside: the templated home is alice's and writable, the mount she asked read-only is.
  const s = await sshInto(
    alice.keyFile,
    'root',
    '127.0.0.1',
    c.sshPort,
    'touch /host-home/x && echo home-rw; touch /data/x 2>/dev/null && echo data-rw || echo data-ro',
  );
  assert.deepEqual(s.stdout.trim().split('\n'), ['home-rw', 'data-ro'], s.stderr);
  const dryAgain = JSON.parse((await env.dcm('alice', 'create', '--dry-run')).stdout);
  assert.equal(dryAgain.body.HostConfig.NetworkMode, i.HostConfig.NetworkMode, 'the network made by the first create');
});

test('a default mount comes unless --no-default-mounts; rw cannot be asked of a read-only mount', async () => {
  const plain = await env.dcmJson('carol', 'create', '--name', 'nodef', '--no-default-mounts', '--mount', 'ref');
  const i = await dockerInspect(env.dockerName(plain.id));
  assert.deepEqual(policyBinds(i.HostConfig.Binds), [`${host}/safe/data:/ref:ro`]);
  const before = await made('carol');
  const up = await env.dcm('carol', 'create', '--mount', 'ref:rw');
  assert.deepEqual(
    [up.code, up.stderr],
    [4, 'dcm: mount "ref" is read-only: it cannot be mounted read-write — policy: mounts.ref.mode ro\n'],
  );
  const bad = await env.dcm('carol', 'create', '--mount', 'ref:rwx');
  assert.deepEqual([bad.code, bad.stderr], [2, 'dcm: invalid mount name "ref:rwx" (see "whoami" for yours)\n']);
  assert.deepEqual(await made('carol'), before, 'nothing made by a refusal');
});

test('the probes hold for templated sources: a missing per-user directory, a rw template on a setuid filesystem', async () => {
  // bob has no directory under homes/: his default mount's source is missing. A dry run probes like a create.
  const before = await made('bob');
  const dry = await env.dcm('bob', 'create', '--dry-run');
  assert.deepEqual(
    [dry.code, dry.stderr],
    [6, 'dcm: mount home is unavailable: its host path does not exist; nothing was created (tell the administrator)\n'],
  );
  assert.deepEqual(await made('bob'), before, 'a dry run makes nothing, not even the network');
  const missing = await env.dcm('bob', 'create');
  assert.deepEqual([missing.code, missing.stderr], [dry.code, dry.stderr]);
  // (A refused create may leave the user's network, made beside the probes: only containers and rows count here.)
  const after = await made('bob');
  assert.deepEqual([after.containers, after.rows], [before.containers, before.rows]);
  // carol's directory exists, on a filesystem that allows setuid programs: refused, rw or not asked ro.
  const unsafe = await env.dcm('carol', 'create', '--mount', 'own');
  assert.deepEqual(
    [unsafe.code, unsafe.stderr],
    [4, 'dcm: mount own is refused: its host filesystem allows setuid programs; nothing was created (tell the administrator)\n'],
  );
  // Asked read-only, the same mount is safe and is made.
  const ro = await env.dcmJson('carol', 'create', '--mount', 'own:ro', '--no-default-mounts');
  const i = await dockerInspect(env.dockerName(ro.id));
  assert.deepEqual(policyBinds(i.HostConfig.Binds), [`${host}/unsafe/carol:/own:ro`]);
  // policy check looks where every user's copy lies.
  const check = await env.tool('admin', 'policy', 'check');
  assert.equal(check.code, 7, check.stdout + check.stderr);
  assert.match(
    check.stdout + check.stderr,
    new RegExp(`mounts\\.own: rw, but ${host}/unsafe is on ${host}/unsafe, mounted without nosuid`),
  );
  assert.doesNotMatch(check.stdout + check.stderr, /mounts\.home: rw, but/);
});
