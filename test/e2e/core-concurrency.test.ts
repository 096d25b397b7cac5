/**
 * Several dcm processes at once on one database: allocation is atomic
 * (BEGIN IMMEDIATE + UNIQUE(ip, port)), so parallel creates never share a
 * port, and a contested extra port is granted once per IP alias.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv } from '../helpers/env.js';

const env = new TestEnv({
  tag: 'conc',
  sshPorts: '30300-30349',
  ipAliases: ['127.0.0.21', '127.0.0.22'],
  extraYaml: 'defaults:\n  limits: { max_containers: 20 }',
});

before(async () => {
  await env.registerBase();
  await env.addUser('alice');
  await env.addUser('bob');
});
after(() => env.cleanup());

test('parallel creates from separate processes get distinct ports, and a contested port is granted once per alias', async () => {
  const plain = Array.from({ length: 4 }, (_, i) => env.dcm(i % 2 ? 'bob' : 'alice', 'create', '--json'));
  const contested = Array.from({ length: 3 }, (_, i) => env.dcm(i % 2 ? 'bob' : 'alice', 'create', '--port', '18100', '--json'));
  const results = await Promise.all([...plain, ...contested]);
  const ok = results.filter((r) => r.code === 0).map((r) => JSON.parse(r.stdout));
  const failed = results.filter((r) => r.code !== 0);
  assert.equal(ok.length, 6, results.map((r) => r.stderr).join(''));
  assert.equal(failed.length, 1);
  assert.match(failed[0]!.stderr, /port 18100 already in use on every address/);
  const ids = ok.map((c) => c.sshPort);
  assert.equal(new Set(ids).size, ids.length, 'no SSH port handed out twice');
  const withPort = ok.filter((c) => c.ports.length === 1);
  assert.deepEqual(withPort.map((c) => c.ip).sort(), ['127.0.0.21', '127.0.0.22']);
  const status = JSON.parse((await env.tool('admin', 'status', '--json')).stdout);
  assert.equal(status.containers, 6);
  assert.equal(status.ports, 8);
});
