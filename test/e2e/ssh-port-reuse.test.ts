/**
 * A removed container's SSH port (and the host key clients remember for it)
 * is not handed straight to the next create, another user's included: ports
 * go round the range from where the last one was handed out, and the place
 * is kept in the database, so it survives across processes.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv } from '../helpers/env.js';

describe('SSH ports are reused as late as possible', () => {
  const env = new TestEnv({ tag: 'portreuse', sshPorts: '30700-30702' });

  before(async () => {
    await env.registerBase();
    await env.addUser('alice');
    await env.addUser('bob');
  });
  after(async () => {
    await env.cleanup();
  });

  test('create, rm, create again (by another user) gets a different port; the freed one comes back only after the range wrapped', async () => {
    const lo = tp(30700);
    const a = await env.dcmJson<{ id: number }>('alice', 'create');
    assert.equal(a.id, lo);
    assert.equal((await env.dcm('alice', 'rm', '-f', String(a.id))).code, 0);

    const b = await env.dcmJson<{ id: number }>('bob', 'create');
    assert.notEqual(b.id, a.id, "bob must not get alice's port back at once");
    assert.equal(b.id, lo + 1);

    const c = await env.dcmJson<{ id: number }>('alice', 'create');
    assert.equal(c.id, lo + 2);
    assert.equal((await env.dcm('alice', 'rm', '-f', String(c.id))).code, 0);

    // Top of the range reached: wrap to the bottom, skipping bob's port.
    const d = await env.dcmJson<{ id: number }>('bob', 'create');
    assert.equal(d.id, lo);
    const e = await env.dcmJson<{ id: number }>('alice', 'create');
    assert.equal(e.id, lo + 2);
    const full = await env.dcm('alice', 'create');
    assert.equal(full.code, 5);
    assert.equal(full.stderr, 'dcm: no free SSH port left on this server; ask the administrator\n');
  });
});
