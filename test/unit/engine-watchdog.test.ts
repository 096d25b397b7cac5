/**
 * No engine call waits on an engine that stopped answering: against a socket
 * that accepts connections and never answers (a dockerd that is starting,
 * frozen or wedged), every call of the Docker adapter fails as "container
 * engine unavailable" within a few seconds and its connection is closed; a
 * call that is slow on an engine that still answers pings (stop waits for the
 * container) is not cut short; with no socket at all the answer is immediate.
 * (The real engine stopped, frozen and restarted: test/e2e/engine-restart.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { DockerEngine } from '../../src/engine/docker-engine.js';
import { WATCH_TIMING } from '../../src/engine/engine-watchdog.js';
import { DcmError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const ID = 'c'.repeat(64);
/** The longest a call may take on a silent engine: first check, then a ping that gets no answer, plus slack for a busy machine. */
const BOUND_MS = WATCH_TIMING.firstCheckMs + WATCH_TIMING.pingTimeoutMs + 1500;

/** Outcome of one call: how long it took and the one line a user would see. */
async function timed(call: () => Promise<unknown>): Promise<{ ms: number; line: string; code: string }> {
  const t0 = Date.now();
  try {
    await call();
    return { ms: Date.now() - t0, line: 'answered', code: '' };
  } catch (e) {
    assert.ok(e instanceof DcmError, `a DcmError, not ${String(e)}`);
    return { ms: Date.now() - t0, line: e.userMessage, code: e.code };
  }
}

test('an engine that accepts connections but never answers: every call says "container engine unavailable" within seconds', {
  timeout: 30_000,
}, async () => {
  const socket = join(tempDir('dcm-silent-engine-'), 'docker.sock');
  const open = new Set<Socket>();
  // Reads requests and never writes a byte back.
  const server = createServer((s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.resume();
  });
  await new Promise<void>((r) => server.listen(socket, r));
  try {
    const engine = new DockerEngine(socket);
    const calls: [string, () => Promise<unknown>][] = [
      ['ping', () => engine.ping()],
      ['inspect', () => engine.inspect(ID)],
      ['list', () => engine.list(['dcm.managed=1'])],
      ['stop', () => engine.stop(ID, 10)],
      ['start', () => engine.start(ID)],
      ['remove', () => engine.remove(ID, true)],
      ['logs', () => engine.logs(ID, 10)],
      ['follow logs', () => engine.followLogs(ID, 10, new AbortController().signal, async () => {})],
      ['info', () => engine.info()],
      ['list images', () => engine.listImages([])],
      ['inspect network', () => engine.inspectNetwork('n')],
    ];
    const results = await Promise.all(calls.map(async ([name, call]) => ({ name, ...(await timed(call)) })));
    for (const r of results) {
      assert.deepEqual([r.name, r.code, r.line], [r.name, 'unavailable', 'container engine unavailable']);
      assert.ok(r.ms < BOUND_MS, `${r.name} answered after ${r.ms} ms (bound ${BOUND_MS} ms)`);
      assert.ok(r.ms >= WATCH_TIMING.firstCheckMs - 50, `${r.name} was not cut short before the first check (${r.ms} ms)`);
    }
    // Every request given up on was torn down: no connection is left waiting on the silent engine.
    const end = Date.now() + 2000;
    while (open.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(open.size, 0, 'connections left open to the silent engine');
  } finally {
    for (const s of open) s.destroy();
    server.close();
  }
});

test('a call that is slow on an engine that answers pings is not cut short', { timeout: 30_000 }, async () => {
  const socket = join(tempDir('dcm-slow-engine-'), 'docker.sock');
  const holdMs = WATCH_TIMING.firstCheckMs + WATCH_TIMING.pingTimeoutMs + 1000;
  let pings = 0;
  const server = createHttpServer((req, res) => {
    if (req.url!.endsWith('/_ping')) {
      pings++;
      res.end('OK');
      return;
    }
    assert.match(req.url!, new RegExp(`/containers/${ID}/stop`));
    // A container that takes its time to stop.
    setTimeout(() => {
      res.writeHead(204);
      res.end();
    }, holdMs);
  });
  await new Promise<void>((r) => server.listen(socket, r));
  try {
    const r = await timed(() => new DockerEngine(socket).stop(ID, 30));
    assert.equal(r.line, 'answered');
    assert.ok(r.ms >= holdMs - 50, `stop answered after ${r.ms} ms`);
    assert.ok(pings >= 1, 'the engine was pinged while the call waited');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('no engine socket at all: "container engine unavailable" at once', async () => {
  const socket = join(tempDir('dcm-no-engine-'), 'docker.sock');
  const r = await timed(() => new DockerEngine(socket).list([]));
  assert.deepEqual([r.code, r.line], ['unavailable', 'container engine unavailable']);
  assert.ok(r.ms < 1000, `answered after ${r.ms} ms`);
});
