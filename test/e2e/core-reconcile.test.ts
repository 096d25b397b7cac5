/**
 * Crash repair on the real engine: what a crash can leave between SQLite and
 * Docker, and `dcm-admin reconcile` putting it right — touching only this
 * installation's objects.
 */
import { tp } from '../helpers/ports.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { TestEnv, dockerInspect, run } from '../helpers/env.js';

const env = new TestEnv({ tag: 'recon', sshPorts: '30200-30249' });
const other = new TestEnv({ tag: 'recon2', sshPorts: '30250-30299' });

before(async () => {
  await env.registerBase();
  await env.addUser('alice');
  await other.registerBase();
  await other.addUser('carol');
});
after(async () => {
  await env.cleanup();
  await other.cleanup();
});

function sql(stmt: string, ...args: unknown[]): void {
  const db = new Database(join(env.stateDir, 'dcm.db'));
  db.prepare(stmt).run(...args);
  db.close();
}

test('reconcile repairs rows without containers, containers without rows and stale creates', async () => {
  const gone = await env.dcmJson('alice', 'create', '--port', '18090');
  const orphan = await env.dcmJson('alice', 'create');
  await env.dcmJson('alice', 'create', '--name', 'kept');
  const foreign = await other.dcmJson('carol', 'create');

  // 1. The container vanished behind dcm's back.
  await run('docker', ['rm', '-f', env.dockerName(gone.id)]);
  // 2. The row was lost (a crash between engine create and record).
  sql('DELETE FROM containers WHERE id = ?', orphan.id);
  // 3. A create that died half-way, long ago.
  sql(`INSERT INTO containers (id, owner, name, image_ref, image_id, ip, instance, state, created_at)
       VALUES (${tp(30249)}, 'alice', NULL, 'x', 'sha256:x', '127.0.0.1', 'i', 'creating', '2000-01-01T00:00:00Z')`);
  sql(
    `INSERT INTO port_allocations (ip, port, container_id, container_port, kind) VALUES ('127.0.0.1', ${tp(30249)}, ${tp(30249)}, 22, 'ssh')`,
  );

  const dry = JSON.parse((await env.tool('admin', 'reconcile', '--dry-run', '--json')).stdout);
  assert.deepEqual(dry.rowsWithoutContainer, [gone.id]);
  assert.equal(dry.containersWithoutRow.length, 1);
  assert.deepEqual(dry.staleReservations, [tp(30249)]);
  assert.notEqual(await dockerInspect(env.dockerName(orphan.id)), null, 'dry run changes nothing');

  const r = await env.tool('admin', 'reconcile');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /repaired 1 rows without a container/);
  assert.equal(await dockerInspect(env.dockerName(orphan.id)), null);
  const status = JSON.parse((await env.tool('admin', 'status', '--json')).stdout);
  assert.equal(status.containers, 1);
  assert.equal(status.ports, 1, 'only the kept container still holds a port');
  assert.equal((await env.dcmJson('alice', 'show', 'kept')).state, 'running');
  // Another installation on the same engine is never touched.
  assert.equal((await dockerInspect(other.dockerName(foreign.id))).State.Status, 'running');
  // The released extra port can be used again.
  const again = await env.dcmJson('alice', 'create', '--port', '18090');
  assert.equal(again.ports[0].host, 18090);
  assert.equal((await env.tool('admin', 'reconcile')).stdout.trim(), 'nothing to repair');
});
