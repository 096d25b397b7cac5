/** The subnet arithmetic behind users' own networks, and its config checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseSubnet,
  containersPerBlock,
  formatCidr,
  overlaps,
  parseCidr,
  parseProcRoutes,
  type Cidr,
} from '../../src/net/user-subnets.js';
import { resolveConfig } from '../../src/config.js';
import { DcmError } from '../../src/errors.js';

const c = (s: string): Cidr => {
  const v = parseCidr(s);
  assert.ok(v, s);
  return v;
};

test('parseCidr accepts canonical IPv4 blocks only', () => {
  assert.equal(formatCidr(c('10.213.0.0/16')), '10.213.0.0/16');
  assert.equal(formatCidr(c('10.213.1.32/27')), '10.213.1.32/27');
  for (const bad of ['10.213.0.1/16', '10.213.0.0', '300.1.1.1/8', '10.0.0.0/33', 'fd00::/64', ' 10.0.0.0/8'])
    assert.equal(parseCidr(bad), null, bad);
});

test('overlaps is symmetric and exact at the edges', () => {
  assert.ok(overlaps(c('10.0.0.0/8'), c('10.213.0.32/27')));
  assert.ok(overlaps(c('10.213.0.32/27'), c('10.0.0.0/8')));
  assert.ok(!overlaps(c('10.213.0.0/27'), c('10.213.0.32/27')));
  assert.ok(overlaps(c('10.213.0.0/26'), c('10.213.0.32/27')));
});

test('chooseSubnet takes the lowest free block and skips anything overlapping', () => {
  const pool = c('10.213.0.0/16');
  assert.equal(formatCidr(chooseSubnet(pool, 27, [])!), '10.213.0.0/27');
  assert.equal(formatCidr(chooseSubnet(pool, 27, [c('10.213.0.0/27'), c('10.213.0.32/28')])!), '10.213.0.64/27');
  // A route covering the first /24 (e.g. a site network) is skipped whole.
  assert.equal(formatCidr(chooseSubnet(pool, 27, [c('10.213.0.0/24')])!), '10.213.1.0/27');
  // Blocks of another size (the prefix changed after some were handed out) still count.
  assert.equal(formatCidr(chooseSubnet(pool, 28, [c('10.213.0.0/27')])!), '10.213.0.32/28');
  assert.equal(chooseSubnet(c('10.213.0.0/26'), 27, [c('10.213.0.0/27'), c('10.213.0.32/27')]), null, 'pool full');
  assert.equal(chooseSubnet(pool, 15, []), null, 'block larger than the pool');
});

test('parseProcRoutes reads /proc/net/route and leaves out default routes', () => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'br0\t006433C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'docker0\t000000CB\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  assert.deepEqual(parseProcRoutes(text).map(formatCidr), ['198.51.100.0/24', '203.0.0.0/16']);
});

test('containersPerBlock leaves out network, broadcast and gateway', () => {
  assert.equal(containersPerBlock(27), 29);
  assert.equal(containersPerBlock(28), 13);
});

test('config: user_subnets must be a block, and a block must hold the most containers a user may have', () => {
  const cfg =
    (network: object, extra: object = {}) =>
    () =>
      resolveConfig({ network, ...extra }, '/tmp/netchk', null);
  assert.equal(cfg({})().network.user_subnets, '10.213.0.0/16');
  assert.equal(cfg({})().network.user_subnet_prefix, 27);
  const refused = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof DcmError && re.test(e.message));
  refused(
    cfg({ user_subnets: '10.213.0.1/16' }),
    /^config: network\.user_subnets: an IPv4 block such as "10\.213\.0\.0\/16" \(host bits zero\)$/,
  );
  refused(
    cfg({ user_subnets: '10.213.0.0/24', user_subnet_prefix: 20 }),
    /^config: network\.user_subnet_prefix: must be at least the range's own prefix length \(\/24\)$/,
  );
  // Built-in max_containers is 10: a /28 (13) fits, a /29 (5) does not.
  assert.equal(cfg({ user_subnet_prefix: 28 })().network.user_subnet_prefix, 28);
  refused(
    cfg({ user_subnet_prefix: 29 }),
    /^config: network\.user_subnet_prefix: a \/29 holds 5 containers, but the policy allows a user 10 \(limits\.max_containers\): use a shorter prefix$/,
  );
  refused(cfg({}, { users: { alice: { limits: { max_containers: 40 } } } }), /a \/27 holds 29 containers, but the policy allows a user 40/);
});
