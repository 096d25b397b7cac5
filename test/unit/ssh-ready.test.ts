/**
 * waitForSsh (src/net/ssh-ready.ts) against small loopback servers that act
 * like an sshd behind Docker's proxy: one that answers at once, one that
 * answers every connection only after 3 s (sshd on a machine loaded by a
 * burst of creates), and a proxy whose container does not listen yet (it
 * accepts, then closes at once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { waitForSsh } from '../../src/net/ssh-ready.js';
import { tp } from '../helpers/ports.js';

interface Fake {
  server: Server;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/** A server on 127.0.0.1:port that sends an SSH banner `delayMs` after each connection, or closes it at once when delayMs is null. */
async function fakeSshd(port: number, delayMs: number | null): Promise<Fake> {
  let n = 0;
  const open = new Set<Socket>();
  const server = createServer((sock) => {
    n++;
    open.add(sock);
    sock.on('error', () => undefined);
    sock.on('close', () => open.delete(sock));
    if (delayMs === null) {
      sock.destroy();
      return;
    }
    const t = setTimeout(() => sock.write('SSH-2.0-OpenSSH_9.2p1 fake\r\n'), delayMs);
    sock.on('close', () => clearTimeout(t));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    server,
    accepted: () => n,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

test('an sshd that answers at once is seen at once, also when it starts listening a little after the first probe', async () => {
  const port = tp(33830);
  let fake: Fake | undefined;
  const later = setTimeout(async () => (fake = await fakeSshd(port, 0)), 300);
  try {
    const t0 = Date.now();
    assert.equal(await waitForSsh('127.0.0.1', port, 10_000), true);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 1000, `seen after ${took} ms`);
  } finally {
    clearTimeout(later);
    await fake?.close();
  }
});

test('an sshd that takes 3 s to answer each connection (a loaded machine) is seen, well within the timeout', async () => {
  const fake = await fakeSshd(tp(33831), 3000);
  try {
    const t0 = Date.now();
    // A fixed 2 s per probe never saw this banner: every probe was given up first.
    assert.equal(await waitForSsh('127.0.0.1', tp(33831), 12_000), true);
    const took = Date.now() - t0;
    assert.ok(took < 8000, `seen after ${took} ms`);
    assert.ok(fake.accepted() <= 3, `${fake.accepted()} connections`);
  } finally {
    await fake.close();
  }
});

test('while the container does not listen yet (the proxy closes at once), probes back off: bounded, then false at the timeout', async () => {
  const fake = await fakeSshd(tp(33832), null);
  try {
    const t0 = Date.now();
    assert.equal(await waitForSsh('127.0.0.1', tp(33832), 6000), false);
    const took = Date.now() - t0;
    assert.ok(took >= 6000 && took < 7000, `gave up after ${took} ms`);
    // 15 ms pauses for the first second (at most ~65 probes), then growing to 500 ms: a few more.
    // Probing every 15 ms for all 6 s would be ~370.
    assert.ok(fake.accepted() >= 5 && fake.accepted() <= 100, `${fake.accepted()} connections in 6 s`);
  } finally {
    await fake.close();
  }
});
