/**
 * One unit system for sizes: binary. What an admin writes (`memory: 2g`) is
 * 2 GiB, and dcm shows it back as "2g" everywhere a user or admin reads a size
 * (whoami, images, refusals, policy show); --json carries bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import { formatSize, parseSize } from '../../src/sizes.js';
import { humanSize, imagesTable } from '../../src/shell/render.js';
import { Store } from '../../src/store/store.js';
import { assemble } from '../../src/main.js';
import { effectivePolicy } from '../../src/policy/effective.js';
import { policyRows } from '../../src/policy/policy-report.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

test('a size written as 2g is 2 GiB and is shown as "2g" again', () => {
  for (const text of ['2g', '512m', '7.5g', '1t', '300k', '1.25g', '400m']) assert.equal(formatSize(parseSize(text)), text, text);
  assert.equal(parseSize('2g'), 2 * GiB);
  assert.equal(humanSize(2 * GiB), '2g');
  assert.equal(humanSize(null), '-');
});

test('sizes are shown to three significant digits, in the largest unit that fits', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [512, '512'],
    [1024, '1k'],
    [1536, '1.5k'],
    [123456789, '118m'],
    [1.234 * GiB, '1.23g'],
    [12.34 * GiB, '12.3g'],
    [1023.9 * 1024, '1m'],
    [3.3 * 1024 ** 4, '3.3t'],
  ];
  for (const [bytes, shown] of cases) assert.equal(formatSize(bytes), shown, String(bytes));
});

test('whoami, images and policy show speak in the units the configuration is written in; --json in bytes', async () => {
  const dir = tempDir('dcm-sizes-');
  const config = resolveConfig(
    {
      instance: 'sizes',
      network: { ssh_ports: '20000-20009', ip_aliases: ['127.0.0.1'] },
      presets: { big: { description: 'more memory', memory: '16g', cpus: 4 } },
      defaults: { presets: ['big'], limits: { memory: '2g', total_memory: '7.5g' } },
    },
    dir,
    null,
  );
  const store = Store.open(config.dbFile);
  const engine = new FakeEngine();
  const deps = { store, engine, config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  const { users, core } = assemble(deps);
  users.add({ name: 'alice', keys: [KEY], groups: [] });

  const w = await core.run('alice', ['whoami']);
  const lines = w.stdout.split('\n');
  assert.equal(
    lines.find((l) => l.startsWith('limits ')),
    'limits     memory 2g, 2 CPUs, 1024 processes per container',
  );
  assert.equal(
    lines.find((l) => l.startsWith('totals ')),
    'totals     memory 0 of 7.5g, 0 of no limit CPUs',
  );
  assert.equal(
    lines.find((l) => l.startsWith('presets ')),
    'presets    big — more memory memory 16g, 4 CPUs',
  );
  const j = JSON.parse((await core.run('alice', ['whoami', '--json'])).stdout);
  assert.deepEqual([j.limits.memoryBytes, j.limits.totalMemoryBytes, j.presets[0].memory], [2 * GiB, 7.5 * GiB, 16 * GiB]);

  assert.equal(
    imagesTable([
      {
        ref: 'dcm/debian-base:bookworm',
        name: 'dcm/debian-base:bookworm',
        kind: 'base',
        id: 'sha256:1',
        sizeBytes: 123456789,
        createdAt: '2026-01-02T03:04:05Z',
        inUseBy: [],
      },
    ]),
    'IMAGE                     KIND  SIZE  CREATED           USED BY\ndcm/debian-base:bookworm  base  118m  2026-01-02 03:04  -',
  );

  const rows = policyRows(effectivePolicy(config, 'alice', []));
  assert.deepEqual(
    rows.filter((r) => r.field.includes('memory')).map((r) => `${r.field} ${r.value}`),
    ['limits.memory 2g', 'limits.total_memory 7.5g'],
  );
  assert.equal(formatSize(400 * MiB), '400m');
});
