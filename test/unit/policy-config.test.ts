/**
 * The policy file around decide(): validation errors (file, field path, what is
 * allowed), image reference normalisation, where each effective value came
 * from, reload that keeps the old config on a bad file, and mount probing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { effectivePolicy } from '../../src/policy/effective.js';
import { familiarForm, matchesRef, normaliseForPolicy } from '../../src/policy/image-ref.js';
import { policyRows } from '../../src/policy/policy-report.js';
import { PolicySource } from '../../src/policy-io/policy-source.js';
import { probeDevices, probeMounts, statProber } from '../../src/policy-io/probe-mounts.js';

const bad = (raw: unknown, re: RegExp) =>
  assert.throws(
    () => resolveConfig(raw, '/tmp/s', 'p.yaml'),
    (e: Error) => re.test(e.message) || assert.fail(e.message),
  );

test('policy validation names the file, the field path and what is allowed', () => {
  bad({ groups: { g: { images: { deny: ['(('] } } } }, /^p\.yaml: groups\.g\.images\.deny\.0: not a valid regular expression/);
  bad({ users: { a: { presets: ['nope'] } } }, /^p\.yaml: users\.a\.presets\.0: unknown preset "nope": none are declared$/);
  bad(
    { presets: { p: { mounts: ['m'] } }, mounts: { x: { source: '/a', target: '/b' } } },
    /^p\.yaml: presets\.p\.mounts\.0: unknown mount "m": one of x$/,
  );
  bad({ defaults: { cap_add: ['SYS_FOO'] } }, /^p\.yaml: defaults\.cap_add\.0: a capability name without CAP_, one of .*SYS_ADMIN/);
  bad({ defaults: { env: { DCM_USER: 'x' } } }, /^p\.yaml: defaults\.env\.DCM_USER: .*set by dcm itself/);
  bad({ mounts: { m: { source: 'relative', target: '/x' } } }, /^p\.yaml: mounts\.m\.source: an absolute path/);
  bad({ mounts: { m: { source: '/a', target: '/root/x' } } }, /^p\.yaml: mounts\.m\.target: not \/, \/root/);
  bad({ mounts: { m: { source: '/a/../etc', target: '/x' } } }, /^p\.yaml: mounts\.m\.source: must not contain "\.\."/);
  bad(
    {
      gpus: {
        inventory: [
          { id: '0', devices: ['/dev/a'] },
          { id: '0', devices: ['/dev/b'] },
        ],
      },
    },
    /^p\.yaml: gpus\.inventory\.1\.id: GPU id "0" is declared twice$/,
  );
  bad({ groups: { g: { gpus: { allow: ['7'] } } } }, /^p\.yaml: groups\.g\.gpus\.allow\.0: unknown GPU "7"/);
  bad(
    { groups: { g: { ports: { ip_aliases: ['127.0.0.9'] } } } },
    /^p\.yaml: groups\.g\.ports\.ip_aliases\.0: 127\.0\.0\.9 is not in network\.ip_aliases/,
  );
  bad({ groups: { g: { user: 'nobody' } } }, /^p\.yaml: groups\.g\.user: .*'root' \| 'host'/);
  bad({ groups: { g: { limits: { total_memory: 'lots' } } } }, /^p\.yaml: groups\.g\.limits\.total_memory/);
  bad({ defaults: { images: { alow: [] } } }, /^p\.yaml: defaults\.images: Unrecognized key.*alow/);
});

test('image references are normalised the way Docker does', () => {
  assert.equal(normaliseForPolicy('debian'), 'docker.io/library/debian:latest');
  assert.equal(normaliseForPolicy('debian:12'), 'docker.io/library/debian:12');
  assert.equal(normaliseForPolicy('dcm/debian-base:bookworm'), 'docker.io/dcm/debian-base:bookworm');
  assert.equal(normaliseForPolicy('registry.local:5000/x/y'), 'registry.local:5000/x/y:latest');
  assert.equal(normaliseForPolicy('localhost/x'), 'localhost/x:latest');
  assert.equal(familiarForm('docker.io/library/debian:latest'), 'debian:latest');
  assert.ok(matchesRef('^docker\\.io/library/debian:latest$', 'debian'));
  assert.ok(matchesRef('^dcm/.*$', 'dcm/debian-base:bookworm'));
  assert.ok(matchesRef('dcm/u/alice/.*', 'dcm/u/alice/tools:v1'), 'anchored in full even without ^$');
  assert.ok(!matchesRef('dcm', 'dcm/debian-base:bookworm'), 'a partial match is not a match');
});

test('effective policy remembers the layer of every value', () => {
  const cfg = resolveConfig(
    {
      presets: { p1: {}, p2: {} },
      defaults: { images: { allow: ['^dcm/.*$'] }, presets: ['p1'], limits: { memory: '1g' } },
      groups: { students: { images: { deny: ['^x$'] }, limits: { memory: '4g', max_containers: 3 } } },
      users: { alice: { presets: ['p2'], limits: { max_containers: 7 } } },
    },
    '/tmp/s',
    null,
  );
  const p = effectivePolicy(cfg, 'alice', ['students']);
  assert.deepEqual(p.limits.memory, { value: 4 * 1024 ** 3, from: 'group students' });
  assert.deepEqual(p.limits.max_containers, { value: 7, from: 'user alice' });
  assert.deepEqual(p.limits.cpus, { value: 2, from: 'built-in' });
  assert.deepEqual(p.presets, [
    { value: 'p1', from: 'defaults' },
    { value: 'p2', from: 'user alice' },
  ]);
  assert.deepEqual(p.images.deny, [{ value: '^x$', from: 'group students' }]);
  const rows = policyRows(p);
  assert.deepEqual(
    rows.find((r) => r.field === 'limits.memory'),
    { field: 'limits.memory', value: '4g', from: 'group students' },
  );
  assert.deepEqual(
    rows.filter((r) => r.field === 'presets').map((r) => `${r.value}@${r.from}`),
    ['p1@defaults', 'p2@user alice'],
  );
  // A group the config does not mention changes nothing.
  assert.deepEqual(effectivePolicy(cfg, 'bob', ['unknown']).limits.memory, { value: 1024 ** 3, from: 'defaults' });
});

test('PolicySource reloads on demand and keeps the old config when the new file is invalid', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcm-policy-src-'));
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'defaults:\n  limits: { memory: 1g }\n');
    const seen: string[] = [];
    const src = new PolicySource({ stateDir: dir, configFile: file, debounceMs: 20, onReload: (r, why) => seen.push(`${why}:${r.ok}`) });
    assert.equal(src.current.defaults.limits?.memory, 1024 ** 3);
    writeFileSync(file, 'defaults:\n  limits: { memory: 2g }\n');
    assert.equal(src.reload().ok, true);
    assert.equal(src.current.defaults.limits?.memory, 2 * 1024 ** 3);
    writeFileSync(file, 'defaults:\n  limits: { memory: lots }\n');
    const r = src.reload();
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /config\.yaml: defaults\.limits\.memory: .*keeping the previous configuration/);
    assert.equal(src.current.defaults.limits?.memory, 2 * 1024 ** 3, 'old config kept');

    // File change: replaced by rename, as editors do; the directory watch sees it.
    src.watch();
    writeFileSync(join(dir, 'new.yaml'), 'defaults:\n  limits: { memory: 3g }\n');
    const { renameSync } = await import('node:fs');
    renameSync(join(dir, 'new.yaml'), file);
    for (let i = 0; i < 100 && src.current.defaults.limits?.memory !== 3 * 1024 ** 3; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(src.current.defaults.limits?.memory, 3 * 1024 ** 3);

    // SIGHUP.
    src.onSighup();
    writeFileSync(file, 'defaults:\n  limits: { memory: 4g }\n');
    await new Promise((res) => setTimeout(res, 100)); // let the file event for this write settle first
    process.kill(process.pid, 'SIGHUP');
    for (let i = 0; i < 100 && !seen.includes('sighup:true'); i++) await new Promise((res) => setTimeout(res, 20));
    assert.ok(seen.includes('sighup:true'), seen.join(','));
    assert.equal(src.current.defaults.limits?.memory, 4 * 1024 ** 3);
    src.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mount probing: a missing path and a hanging path are refused within the timeout', async () => {
  await probeMounts([{ name: 'tmp', source: tmpdir() }], 2000);
  await assert.rejects(
    probeMounts([{ name: 'data', source: '/nonexistent/dcm-probe' }], 2000),
    /mount data is unavailable: its host path does not exist; nothing was created/,
  );
  // A prober that never answers stands in for stat on a hung NFS mount.
  const t0 = Date.now();
  await assert.rejects(
    probeMounts([{ name: 'nfs', source: '/x' }], 150, () => new Promise(() => {})),
    /mount nfs is unavailable: its host path did not answer within 0\.15s/,
  );
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(await statProber(tmpdir(), 2000), 'ok');
  await assert.rejects(
    probeDevices([{ label: 'GPU 7', path: '/dev/dcm-no-such-gpu' }], 2000),
    /^DcmError: GPU 7 is unavailable: its host path does not exist/,
  );
});

test('server.listen takes an IPv6 address in brackets, as --listen does', () => {
  assert.equal(resolveConfig({ server: { listen: '[::]:2222' } }, '/tmp/s', '/etc/dcm/config.yaml').server.listen, '[::]:2222');
  assert.equal(
    resolveConfig({ server: { listen: '[::ffff:127.0.0.1]:2222' } }, '/tmp/s', '/etc/dcm/config.yaml').server.listen,
    '[::ffff:127.0.0.1]:2222',
  );
  assert.throws(
    () => resolveConfig({ server: { listen: '::1:2222' } }, '/tmp/s', '/etc/dcm/config.yaml'),
    /server\.listen: ADDR:PORT such as 0\.0\.0\.0:2222 or \[::\]:2222/,
  );
});
