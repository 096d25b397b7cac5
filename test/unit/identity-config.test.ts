import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localIdentity } from '../../src/doors/identity.js';
import { resolveConfig, parseSize } from '../../src/config.js';
import { effectiveLimits } from '../../src/policy/limits.js';

test('local door identity: SUDO_USER wins and --user is refused under sudo', () => {
  assert.equal(localIdentity({ euid: 0, sudoUser: 'alice' }), 'alice');
  assert.throws(() => localIdentity({ euid: 0, sudoUser: 'alice', userFlag: 'bob' }), /--user is not allowed under sudo/);
  assert.equal(localIdentity({ euid: 0, userFlag: 'bob' }), 'bob');
  assert.throws(() => localIdentity({ euid: 0 }), /--user NAME/);
  assert.throws(() => localIdentity({ euid: 1000, userFlag: 'bob' }), /needs root/);
  assert.throws(() => localIdentity({ euid: 0, userFlag: '../etc' }), /invalid user name/);
});

test('config errors name the file, the field path and what is allowed', () => {
  assert.throws(() => resolveConfig({ network: { ssh_ports: '30000-20000' } }, '/tmp/s', '/etc/dcm/config.yaml'), /\/etc\/dcm\/config.yaml: network.ssh_ports: must be low-high/);
  assert.throws(() => resolveConfig({ network: { ip_aliases: ['localhost'] } }, '/tmp/s', 'f.yaml'), /f.yaml: network.ip_aliases.0: an IPv4 address/);
  assert.throws(() => resolveConfig({ bogus: 1 }, '/tmp/s', 'f.yaml'), /f.yaml: .*bogus/);
  const c = resolveConfig({}, '/tmp/s', null);
  assert.equal(c.dbFile, '/tmp/s/dcm.db');
  assert.deepEqual(c.network.ssh_ports, { lo: 20000, hi: 29999 });
});

test('sizes and limit layers: most specific layer wins', () => {
  assert.equal(parseSize('4g'), 4 * 1024 ** 3);
  assert.equal(parseSize('512m'), 512 * 1024 ** 2);
  const cfg = resolveConfig({
    defaults: { limits: { memory: '1g', max_containers: 5 } },
    groups: { students: { limits: { memory: '4g', pids: 100 } } },
    users: { alice: { limits: { memory: '8g' } } },
  }, '/tmp/s', null);
  const a = effectiveLimits(cfg, 'alice', ['students']);
  assert.equal(a.limits.memory, 8 * 1024 ** 3);
  assert.equal(a.from.memory, 'user alice');
  assert.equal(a.limits.pids, 100);
  assert.equal(a.from.pids, 'group students');
  assert.equal(a.limits.max_containers, 5);
  assert.equal(a.from.cpus, 'built-in');
  assert.equal(effectiveLimits(cfg, 'bob', []).limits.memory, 1024 ** 3);
});
