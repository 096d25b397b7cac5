/**
 * decide() as a table: each layer, each merge rule, each refusal. One config
 * exercises every rule; each row names who asks, for what, with what usage,
 * and what must come out (a field of the decision, or the rule that refused).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import { decide, decideCommit, decideStart, type Decision, type PolicyRequest, type Usage } from '../../src/policy/decide.js';
import { BASE_CAPABILITIES } from '../../src/policy/capabilities.js';

const G = 1024 ** 3;

const cfg = resolveConfig(
  {
    network: { ssh_ports: '20000-20999', ip_aliases: ['127.0.0.1', '127.0.0.2', '127.0.0.3'], extra_ports: '1024-19999' },
    mounts: {
      data: { source: '/srv/data', target: '/data', mode: 'ro' },
      scratch: { source: '/srv/scratch', target: '/scratch', mode: 'rw' },
      tools: { source: '/srv/tools', target: '/opt/tools' },
      clash: { source: '/srv/other', target: '/data' },
    },
    presets: {
      big: { description: 'more memory', memory: '4g', cpus: 3, pids: 4096 },
      'gpu-1': { gpus: 1, mounts: ['data'], ports: '40000-40099' },
    },
    gpus: { inventory: [0, 1, 2, 3].map((i) => ({ id: String(i), devices: [`/dev/nvidia${i}`] })), shared_devices: ['/dev/nvidiactl'] },
    defaults: {
      images: { allow: ['^dcm/.*$'], max_own: 3 },
      limits: { memory: '1g', max_containers: 5, max_running: 4, total_memory: '8g', total_cpus: 6 },
      mounts: { always: ['tools'], allow: ['data'] },
      cap_add: ['SYS_PTRACE'],
      env: { TZ: 'UTC', SITE: 'default' },
      ports: { max_extra: 2 },
      gpus: { max: 1 },
    },
    groups: {
      students: {
        images: { deny: ['^dcm/debian-base:.*$'], own: false },
        limits: { memory: '2g', max_containers: 3 },
        env: { SITE: 'students' },
        user: 'host',
        ports: { ip_aliases: ['127.0.0.2'], ssh: '20500-20599' },
        gpus: { allow: ['2', '3'] },
      },
      staff: {
        images: { allow: ['^docker\\.io/library/debian:.*$'] },
        limits: { memory: '3g' },
        presets: ['big'],
        mounts: { allow: ['scratch'] },
        cap_add: ['NET_RAW'],
        gpus: { max: 2, deny: ['0'] },
      },
      zeta: { limits: { memory: '5g' } },
    },
    users: {
      alice: { presets: ['gpu-1'], limits: { memory: '6g' }, env: { SITE: 'alice' }, mounts: { deny: ['tools'] } },
      carol: { images: { deny: ['^.*:latest$'] }, mounts: { allow: ['clash'] } },
      dave: { limits: { max_running: 10, total_memory: '100g', total_cpus: 100 }, mounts: { deny: ['data'] }, ports: { max_extra: 0 } },
    },
  },
  '/tmp/s',
  'policy.yaml',
);

const none: Usage = { containers: 0, running: 0, memoryBytes: 0, cpus: 0, gpusInUse: [] };
const base: PolicyRequest = { image: { ref: 'dcm/debian-base:bookworm', own: false } };

interface Row {
  name: string;
  user?: string;
  groups?: string[];
  req?: Partial<PolicyRequest>;
  usage?: Partial<Usage>;
  /** Checks on a granted decision. */
  ok?: (d: Decision) => void;
  /** The refusal's rule must match. */
  refused?: RegExp;
  code?: 'denied' | 'limit' | 'invalid';
}

const rows: Row[] = [
  // --- layers and scalars ----------------------------------------------------
  {
    name: 'defaults apply to a user in no group',
    ok: (d) => {
      assert.equal(d.memoryBytes, 1 * G);
      assert.equal(d.cpus, 2);
      assert.equal(d.pids, 1024);
    },
  },
  {
    name: 'a group overrides defaults',
    groups: ['students'],
    req: { image: { ref: 'dcm/other:1', own: false } },
    ok: (d) => assert.equal(d.memoryBytes, 2 * G),
  },
  { name: 'the user layer overrides groups', user: 'alice', groups: ['staff'], ok: (d) => assert.equal(d.memoryBytes, 6 * G) },
  { name: 'between two groups the later name wins', groups: ['staff', 'zeta'], ok: (d) => assert.equal(d.memoryBytes, 5 * G) },
  {
    name: 'built-in values where no layer sets one',
    ok: (d) => {
      assert.equal(d.cpus, 2);
      assert.deepEqual(d.sshRange, { lo: 20000, hi: 20999 });
    },
  },
  {
    name: 'env merges per variable, most specific wins',
    user: 'alice',
    groups: ['students'],
    req: { image: { ref: 'dcm/x:1', own: false } },
    ok: (d) => assert.deepEqual(d.env, { TZ: 'UTC', SITE: 'alice' }),
  },
  {
    name: 'group env over defaults',
    groups: ['students'],
    req: { image: { ref: 'dcm/x:1', own: false } },
    ok: (d) => assert.equal(d.env.SITE, 'students'),
  },
  {
    name: 'capabilities accumulate on top of the base set',
    groups: ['staff'],
    ok: (d) => assert.deepEqual(d.capAdd, [...BASE_CAPABILITIES, 'SYS_PTRACE', 'NET_RAW']),
  },
  { name: 'root by default', ok: (d) => assert.equal(d.runAs, null) },
  {
    name: 'host uid:gid forced per group',
    groups: ['students'],
    req: { image: { ref: 'dcm/x:1', own: false } },
    ok: (d) => assert.deepEqual(d.runAs, { uid: 2001, gid: 2002 }),
  },
  {
    name: 'a group narrows IP aliases and SSH range',
    groups: ['students'],
    req: { image: { ref: 'dcm/x:1', own: false } },
    ok: (d) => {
      assert.deepEqual(d.ipAliases, ['127.0.0.2']);
      assert.deepEqual(d.sshRange, { lo: 20500, hi: 20599 });
    },
  },
  { name: 'all configured aliases by default', ok: (d) => assert.deepEqual(d.ipAliases, ['127.0.0.1', '127.0.0.2', '127.0.0.3']) },

  // --- images ----------------------------------------------------------------
  { name: 'allowed image', ok: (d) => assert.equal(d.preset, null) },
  {
    name: 'image outside every allow rule',
    req: { image: { ref: 'debian:latest', own: false } },
    refused: /^images\.allow matches none of "\^dcm\/\.\*\$" \(defaults\)$/,
  },
  { name: 'allow lists accumulate: a group adds debian', groups: ['staff'], req: { image: { ref: 'debian', own: false } }, ok: () => {} },
  {
    name: 'normalised reference: debian = docker.io/library/debian:latest',
    groups: ['staff'],
    req: { image: { ref: 'docker.io/library/debian:12', own: false } },
    ok: () => {},
  },
  { name: 'deny wins over allow', groups: ['students'], refused: /^images\.deny "\^dcm\/debian-base:\.\*\$" \(group students\)$/ },
  {
    name: 'deny from the user layer',
    user: 'carol',
    req: { image: { ref: 'dcm/tools', own: false } },
    refused: /^images\.deny "\^\.\*:latest\$" \(user carol\)$/,
  },
  { name: 'deny wins even when another group allows', groups: ['staff', 'students'], refused: /images\.deny .*\(group students\)/ },
  { name: 'own images allowed by default, without an allow rule', req: { image: { ref: 'dcm/u/bob/tools:v1', own: true } }, ok: () => {} },
  {
    name: 'own images refused per group',
    groups: ['students'],
    req: { image: { ref: 'dcm/u/bob/tools:v1', own: true } },
    refused: /^images\.own false \(group students\)$/,
  },
  {
    name: 'deny rules apply to own images too',
    user: 'carol',
    req: { image: { ref: 'dcm/u/carol/tools:latest', own: true } },
    refused: /^images\.deny /,
  },

  // --- presets ---------------------------------------------------------------
  {
    name: 'a granted preset replaces limits',
    groups: ['staff'],
    req: { preset: 'big' },
    ok: (d) => {
      assert.equal(d.preset, 'big');
      assert.equal(d.memoryBytes, 4 * G);
      assert.equal(d.cpus, 3);
      assert.equal(d.pids, 4096);
    },
  },
  { name: 'a preset not granted', req: { preset: 'big' }, refused: /^presets$/, code: 'denied' },
  { name: 'an unknown preset', req: { preset: 'nope' }, refused: /^presets$/ },
  {
    name: 'grants accumulate over layers',
    user: 'alice',
    groups: ['staff'],
    req: { preset: 'big' },
    ok: (d) => assert.equal(d.preset, 'big'),
  },
  {
    name: 'a preset brings its GPUs, mounts and port range',
    user: 'alice',
    req: { preset: 'gpu-1', ports: [40001] },
    ok: (d) => {
      assert.deepEqual(d.gpus, [{ id: '0', devices: ['/dev/nvidia0'] }]);
      assert.deepEqual(d.sharedDevices, ['/dev/nvidiactl']);
      assert.deepEqual(
        d.mounts.map((m) => m.name),
        ['data'],
      );
      assert.deepEqual(d.ports, [40001]);
    },
  },
  {
    name: 'a preset cannot be altered (GPU count)',
    user: 'alice',
    req: { preset: 'gpu-1', gpus: { count: 2 } },
    refused: /^presets\.gpu-1\.gpus 1$/,
  },
  {
    name: 'a preset cannot be altered (no GPU)',
    user: 'alice',
    req: { preset: 'gpu-1', gpus: { count: 0 } },
    refused: /^presets\.gpu-1\.gpus 1$/,
  },
  {
    name: 'a preset GPU picked by id',
    user: 'alice',
    req: { preset: 'gpu-1', gpus: { ids: ['3'] } },
    ok: (d) =>
      assert.deepEqual(
        d.gpus.map((g) => g.id),
        ['3'],
      ),
  },
  {
    name: 'a preset without GPUs refuses none asked',
    groups: ['staff'],
    req: { preset: 'big', gpus: { count: 1 } },
    refused: /^presets\.big\.gpus 0$/,
  },
  {
    name: 'a preset port range replaces ports.extra',
    user: 'alice',
    req: { preset: 'gpu-1', ports: [8080] },
    refused: /^ports\.extra 40000-40099 \(preset gpu-1\)$/,
  },

  // --- mounts ----------------------------------------------------------------
  {
    name: 'always-mounts are added',
    ok: (d) => assert.deepEqual(d.mounts, [{ name: 'tools', source: '/srv/tools', target: '/opt/tools', readOnly: true }]),
  },
  {
    name: 'a mount on request, read-only',
    req: { mounts: ['data'] },
    ok: (d) =>
      assert.deepEqual(
        d.mounts.map((m) => [m.name, m.readOnly]),
        [
          ['tools', true],
          ['data', true],
        ],
      ),
  },
  {
    name: 'a read-write mount from a group grant',
    groups: ['staff'],
    req: { mounts: ['scratch'] },
    ok: (d) =>
      assert.deepEqual(
        d.mounts.find((m) => m.name === 'scratch'),
        { name: 'scratch', source: '/srv/scratch', target: '/scratch', readOnly: false },
      ),
  },
  { name: 'a mount not offered', req: { mounts: ['scratch'] }, refused: /^mounts\.allow$/ },
  { name: 'a deny removes an always-mount', user: 'alice', ok: (d) => assert.deepEqual(d.mounts, []) },
  { name: 'a deny wins over an allow', user: 'dave', req: { mounts: ['data'] }, refused: /^mounts\.deny "data" \(user dave\)$/ },
  {
    name: 'two mounts on one target',
    user: 'carol',
    req: { image: { ref: 'dcm/x:1', own: false }, mounts: ['data', 'clash'] },
    refused: /^mounts /,
    code: 'invalid',
  },

  // --- per-user aggregates ---------------------------------------------------
  { name: 'max containers', usage: { containers: 5 }, refused: /^limits\.max_containers 5 \(defaults\)$/, code: 'limit' },
  {
    name: 'max containers from a group',
    groups: ['staff', 'students'],
    req: { image: { ref: 'debian:12', own: false } },
    usage: { containers: 3 },
    refused: /^limits\.max_containers 3 \(group students\)$/,
  },
  { name: 'max running', usage: { running: 4 }, refused: /^limits\.max_running 4 \(defaults\)$/ },
  { name: 'total memory', usage: { memoryBytes: 7.5 * G }, refused: /^limits\.total_memory 8g \(defaults\)$/ },
  { name: 'total CPUs', usage: { cpus: 5 }, refused: /^limits\.total_cpus 6 \(defaults\)$/ },
  { name: 'under every aggregate', usage: { containers: 4, running: 3, memoryBytes: 7 * G, cpus: 4 }, ok: () => {} },
  { name: 'a user layer lifts aggregates', user: 'dave', usage: { running: 9, memoryBytes: 50 * G, cpus: 50 }, ok: () => {} },

  // --- ports -----------------------------------------------------------------
  { name: 'extra ports in range', req: { ports: [8080, 8081] }, ok: (d) => assert.deepEqual(d.ports, [8080, 8081]) },
  { name: 'too many extra ports', req: { ports: [8080, 8081, 8082] }, refused: /^ports\.max_extra 2 \(defaults\)$/ },
  { name: 'no extra ports for one user', user: 'dave', req: { ports: [8080] }, refused: /^ports\.max_extra 0 \(user dave\)$/ },
  { name: 'a port outside the extra range', req: { ports: [80] }, refused: /^ports\.extra 1024-19999 \(network\.extra_ports\)$/ },

  // --- GPUs ------------------------------------------------------------------
  {
    name: 'no GPUs unless asked',
    ok: (d) => {
      assert.deepEqual(d.gpus, []);
      assert.deepEqual(d.sharedDevices, []);
    },
  },
  {
    name: 'N GPUs take the first free ones',
    usage: { gpusInUse: ['0'] },
    req: { gpus: { count: 1 } },
    ok: (d) =>
      assert.deepEqual(
        d.gpus.map((g) => g.id),
        ['1'],
      ),
  },
  { name: 'more GPUs than gpus.max', req: { gpus: { count: 2 } }, refused: /^gpus\.max 1 \(defaults\)$/, code: 'limit' },
  {
    name: 'gpus.max from a group',
    groups: ['staff'],
    req: { gpus: { count: 2 } },
    ok: (d) =>
      assert.deepEqual(
        d.gpus.map((g) => g.id),
        ['1', '2'],
      ),
  },
  { name: 'gpus.deny wins', groups: ['staff'], req: { gpus: { ids: ['0'] } }, refused: /^gpus\.deny "0" \(group staff\)$/ },
  {
    name: 'gpus.allow restricts which',
    groups: ['students'],
    req: { image: { ref: 'dcm/x:1', own: false }, gpus: { ids: ['1'] } },
    refused: /^gpus\.allow \(group students\)$/,
  },
  {
    name: 'gpus.allow picks from its own list',
    groups: ['students'],
    req: { image: { ref: 'dcm/x:1', own: false }, gpus: { count: 1 } },
    ok: (d) =>
      assert.deepEqual(
        d.gpus.map((g) => g.id),
        ['2'],
      ),
  },
  {
    name: 'a GPU in use',
    req: { gpus: { ids: ['3'] } },
    usage: { gpusInUse: ['3'] },
    refused: /^gpus \(exclusive reservation\)$/,
    code: 'limit',
  },
  {
    name: 'all GPUs in use',
    req: { gpus: { count: 1 } },
    usage: { gpusInUse: ['0', '1', '2', '3'] },
    refused: /^gpus \(exclusive reservation\)$/,
  },
  { name: 'a GPU that does not exist', req: { gpus: { ids: ['9'] } }, refused: /^gpus\.inventory$/, code: 'invalid' },
  { name: '--gpus 0 asks for none', req: { gpus: { count: 0 } }, ok: (d) => assert.deepEqual(d.gpus, []) },
];

for (const r of rows) {
  test(`decide: ${r.name}`, () => {
    const req = { ...base, ...r.req } as PolicyRequest;
    const d = decide(req, { name: r.user ?? 'bob', uid: 2001, gid: 2002 }, r.groups ?? [], { ...none, ...r.usage }, cfg);
    if (r.refused) {
      assert.equal(d.ok, false, `expected a refusal, got ${JSON.stringify(d)}`);
      if (d.ok) return;
      assert.match(d.rule, r.refused);
      assert.ok(d.message.endsWith(`policy: ${d.rule}`), d.message);
      if (r.code) assert.equal(d.code, r.code);
    } else {
      assert.equal(d.ok, true, d.ok ? '' : `refused: ${d.message}`);
      if (d.ok) r.ok?.(d);
    }
  });
}

test('decide: refusals carry current usage and the limit', () => {
  const d = decide(base, { name: 'bob', uid: 1, gid: 1 }, [], { ...none, containers: 5 }, cfg);
  assert.equal(d.ok, false);
  if (!d.ok) assert.match(d.message, /you have 5 of 5 containers allowed/);
  const m = decide(base, { name: 'bob', uid: 1, gid: 1 }, [], { ...none, memoryBytes: 7.5 * G }, cfg);
  if (!m.ok) assert.match(m.message, /7\.5g of 8g memory allowed; this one needs 1g/);
  else assert.fail('expected a refusal');
});

test('decideCommit and decideStart: images.max_own and limits.max_running', () => {
  assert.equal(decideCommit('bob', [], 2, cfg), null);
  assert.match(decideCommit('bob', [], 3, cfg)!.rule, /^images\.max_own 3 \(defaults\)$/);
  assert.equal(decideStart('bob', [], 3, cfg), null);
  assert.match(decideStart('bob', [], 4, cfg)!.rule, /^limits\.max_running 4 \(defaults\)$/);
  assert.equal(decideStart('dave', [], 9, cfg), null);
});
