import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localIdentity, localSource } from '../../src/doors/identity.js';
import { configFileOf, loadConfig, resolveConfig } from '../../src/config.js';
import { parseSize } from '../../src/sizes.js';
import { stateDirOf } from '../../src/paths.js';
import { effectiveLimits } from '../../src/policy/limits.js';
import { tempDir } from '../helpers/tmp.js';

test('local door identity: SUDO_USER wins and --user is refused under sudo', () => {
  assert.equal(localIdentity({ euid: 0, sudoUser: 'alice' }), 'alice');
  assert.throws(() => localIdentity({ euid: 0, sudoUser: 'alice', userFlag: 'bob' }), /--user is not allowed under sudo/);
  assert.equal(localIdentity({ euid: 0, userFlag: 'bob' }), 'bob');
  assert.throws(() => localIdentity({ euid: 0 }), /--user NAME/);
  assert.throws(() => localIdentity({ euid: 1000, userFlag: 'bob' }), /needs root/);
  assert.throws(() => localIdentity({ euid: 0, userFlag: '../etc' }), /invalid user name/);
});

test('local door paths: under sudo the user cannot choose the installation (flags refused, env ignored)', () => {
  const sudo = { euid: 0, sudoUser: 'alice' };
  assert.throws(() => localSource(sudo, { stateDir: '/tmp/mine' }), /--state-dir is not allowed under sudo/);
  assert.throws(() => localSource(sudo, { configFile: '/tmp/lax.yaml' }), /--config is not allowed under sudo/);
  assert.deepEqual(localSource(sudo, {}), { ignoreEnv: true });
  // Root acting for a user, or sudo to root itself, keeps both ways of choosing.
  assert.deepEqual(localSource({ euid: 0, userFlag: 'bob' }, { stateDir: '/srv/x' }), { stateDir: '/srv/x' });
  assert.deepEqual(localSource({ euid: 0, sudoUser: 'root', userFlag: 'bob' }, { configFile: '/c' }), { configFile: '/c' });

  // What ignoreEnv means for loading: a config the user pointed DCM_CONFIG at is not read.
  const dir = tempDir('dcm-env-');
  const lax = join(dir, 'lax.yaml');
  writeFileSync(lax, 'instance: chosen-by-user\n');
  const saved = { s: process.env.DCM_STATE_DIR, c: process.env.DCM_CONFIG };
  process.env.DCM_STATE_DIR = dir;
  process.env.DCM_CONFIG = lax;
  try {
    assert.equal(loadConfig({}).instance, 'chosen-by-user');
    assert.equal(loadConfig({}).stateDir, dir);
    // Under sudo the default paths are used (the file itself is read as loadConfig always reads).
    assert.equal(configFileOf({ ignoreEnv: true }), '/etc/dcm/config.yaml');
    assert.equal(stateDirOf({ ignoreEnv: true }), '/var/lib/dcm');
  } finally {
    if (saved.s === undefined) delete process.env.DCM_STATE_DIR;
    else process.env.DCM_STATE_DIR = saved.s;
    if (saved.c === undefined) delete process.env.DCM_CONFIG;
    else process.env.DCM_CONFIG = saved.c;
  }
});

test('config errors name the file, the field path and what is allowed', () => {
  assert.throws(
    () => resolveConfig({ network: { ssh_ports: '30000-20000' } }, '/tmp/s', '/etc/dcm/config.yaml'),
    /\/etc\/dcm\/config.yaml: network.ssh_ports: must be low-high/,
  );
  assert.throws(
    () => resolveConfig({ network: { ip_aliases: ['localhost'] } }, '/tmp/s', 'f.yaml'),
    /f.yaml: network.ip_aliases.0: an IPv4 address/,
  );
  assert.throws(() => resolveConfig({ bogus: 1 }, '/tmp/s', 'f.yaml'), /f.yaml: .*bogus/);
  const c = resolveConfig({}, '/tmp/s', null);
  assert.equal(c.dbFile, '/tmp/s/dcm.db');
  assert.deepEqual(c.network.ssh_ports, { lo: 20000, hi: 29999 });
});

test('sizes and limit layers: most specific layer wins', () => {
  assert.equal(parseSize('4g'), 4 * 1024 ** 3);
  assert.equal(parseSize('512m'), 512 * 1024 ** 2);
  const cfg = resolveConfig(
    {
      defaults: { limits: { memory: '1g', max_containers: 5 } },
      groups: { students: { limits: { memory: '4g', pids: 100 } } },
      users: { alice: { limits: { memory: '8g' } } },
    },
    '/tmp/s',
    null,
  );
  const a = effectiveLimits(cfg, 'alice', ['students']);
  assert.equal(a.limits.memory, 8 * 1024 ** 3);
  assert.equal(a.from.memory, 'user alice');
  assert.equal(a.limits.pids, 100);
  assert.equal(a.from.pids, 'group students');
  assert.equal(a.limits.max_containers, 5);
  assert.equal(a.from.cpus, 'built-in');
  assert.equal(effectiveLimits(cfg, 'bob', []).limits.memory, 1024 ** 3);
});
