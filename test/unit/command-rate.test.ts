/**
 * The per-user command rate: a token bucket per user (server.commands_per_minute,
 * server.command_burst), applied in the command core that every door ends in.
 * A user over the rate gets one line and exit code 5; others are untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configIssues, resolveConfig } from '../../src/config.js';
import { CommandRate } from '../../src/shell/command-rate.js';
import { Store } from '../../src/store/store.js';
import { assemble } from '../../src/main.js';
import type { Deps } from '../../src/manager/deps.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';

test('a bucket gives the burst at once, then one command per 60/perMinute seconds, per user', () => {
  let now = 1_000_000;
  const rate = new CommandRate(
    () => ({ perMinute: 60, burst: 3 }),
    () => now,
  );
  assert.deepEqual([rate.take('alice'), rate.take('alice'), rate.take('alice')], [0, 0, 0]);
  assert.equal(rate.take('alice'), 1, 'the fourth at once waits a second');
  assert.equal(rate.take('bob'), 0, "another user's bucket is full");
  now += 1000;
  assert.equal(rate.take('alice'), 0, 'a second later one more is allowed');
  assert.equal(rate.take('alice'), 1);
  now += 60_000;
  assert.deepEqual(
    [rate.take('alice'), rate.take('alice'), rate.take('alice'), rate.take('alice')],
    [0, 0, 0, 1],
    'never more than the burst',
  );
});

test('a slow rate says how long to wait in whole seconds', () => {
  const rate = new CommandRate(
    () => ({ perMinute: 2, burst: 1 }),
    () => 0,
  );
  assert.equal(rate.take('alice'), 0);
  assert.equal(rate.take('alice'), 30);
});

test('the defaults are far above what a person types; zero or a fraction is refused with its field', () => {
  const c = resolveConfig({}, tempDir('dcm-rate-'), null);
  assert.deepEqual([c.server.commands_per_minute, c.server.command_burst], [600, 100]);
  assert.deepEqual(configIssues({ server: { commands_per_minute: 0 } }), [
    { field: 'server.commands_per_minute', message: 'Number must be greater than or equal to 1' },
  ]);
  assert.deepEqual(configIssues({ server: { command_burst: 1.5 } }), [
    { field: 'server.command_burst', message: 'Expected integer, received float' },
  ]);
});

test('the command core refuses a user over the rate with one line and exit code 5; others go on', async () => {
  const dir = tempDir('dcm-rate-');
  const config = resolveConfig(
    { instance: 'rate', server: { commands_per_minute: 1, command_burst: 5 }, network: { ssh_ports: '20000-20009' } },
    dir,
    null,
  );
  const store = Store.open(config.dbFile);
  try {
    const deps: Deps = { store, engine: new FakeEngine(), config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
    const { core, users } = assemble(deps);
    users.add({ name: 'alice', keys: [KEY], groups: [] });
    users.add({ name: 'bob', keys: [KEY], groups: [] });
    for (let i = 0; i < 5; i++) assert.equal((await core.run('alice', ['whoami'])).code, 0);
    // One command a minute: the bucket cannot refill while a loaded machine runs the five (the wait is 60 s less what they took).
    const over = await core.run('alice', ['whoami']);
    assert.deepEqual([over.code, over.stdout], [5, '']);
    assert.match(over.stderr, /^dcm: too many commands: at most 1 a minute; try again in [1-6]?[0-9] s\n$/);
    const json = await core.run('alice', ['show', '--json']);
    assert.equal(json.code, 5);
    assert.match(JSON.parse(json.stdout).error, /^too many commands: at most 1 a minute; try again in [1-6]?[0-9] s$/);
    assert.equal((await core.run('bob', ['whoami'])).code, 0, 'bob has his own bucket');
  } finally {
    store.close();
  }
});
