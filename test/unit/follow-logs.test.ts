/**
 * `logs -f` in the Docker adapter, against a fake Docker API on a unix socket
 * that streams a log for as long as it is read: a reader that takes nothing
 * holds the engine's stream back; aborting tears the request down (the engine
 * sees its connection close); the end of the stream ends the follow, with a
 * character split between two frames handed on whole. (The real engine is
 * followed in test/ssh/output-streams.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../../src/engine/docker-engine.js';

const ID = 'f'.repeat(64);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One frame of Docker's multiplexed log stream (stream 2: stderr). */
function frame(payload: Buffer): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = 2;
  b.writeUInt32BE(payload.length, 4);
  payload.copy(b, 8);
  return b;
}

interface FakeLog {
  socket: string;
  /** Bytes the fake engine got to write so far. */
  written(): number;
  /** Resolves when the follow request's connection closed. */
  closed: Promise<void>;
  close(): void;
}

/** `serve` writes the log for the follow request; the rest of the API is not needed. */
async function fakeEngine(serve: (res: ServerResponse, count: (n: number) => void) => void): Promise<FakeLog> {
  const dir = mkdtempSync(join(tmpdir(), 'dcm-fake-follow-'));
  const socket = join(dir, 'docker.sock');
  let written = 0;
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const server = createServer((req, res) => {
    assert.match(req.url!, new RegExp(`^/containers/${ID}/logs\\?.*follow=true`));
    res.writeHead(200, { 'content-type': 'application/vnd.docker.raw-stream' });
    res.on('close', onClosed);
    serve(res, (n) => (written += n));
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return {
    socket,
    written: () => written,
    closed,
    close: () => {
      server.closeAllConnections();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes 64 KiB frames for as long as the connection takes them (respecting its back-pressure). */
function endless(res: ServerResponse, count: (n: number) => void): void {
  const chunk = frame(Buffer.alloc(64 * 1024 - 8, 'x'));
  const more = () => {
    while (!res.destroyed) {
      count(chunk.length);
      if (!res.write(chunk)) return void res.once('drain', more);
    }
  };
  more();
}

test('a reader that takes nothing holds the engine stream back: only a bounded part is read', async () => {
  const fake = await fakeEngine(endless);
  const stop = new AbortController();
  try {
    let handed = 0;
    const following = new DockerEngine(fake.socket).followLogs(ID, 0, stop.signal, (text) => {
      handed += text.length;
      return new Promise(() => undefined); // the client never takes it
    });
    await sleep(500);
    const w = fake.written();
    await sleep(500);
    assert.equal(fake.written(), w, 'the fake engine is stuck, not still writing');
    assert.ok(w < 4 * 1024 * 1024, `the engine got to write ${w} bytes`);
    assert.ok(handed > 0 && handed <= 64 * 1024, `handed on ${handed} characters before waiting`);
    stop.abort();
    await following;
    await fake.closed;
  } finally {
    fake.close();
  }
});

test('abort tears the follow request down: the engine sees the connection close, and the follow resolves', async () => {
  const fake = await fakeEngine((res) => res.write(frame(Buffer.from('first\n'))));
  const stop = new AbortController();
  try {
    const got: string[] = [];
    let done = false;
    const following = new DockerEngine(fake.socket)
      .followLogs(ID, 10, stop.signal, async (t) => void got.push(t))
      .then(() => (done = true));
    while (got.length === 0) await sleep(10);
    await sleep(200);
    assert.equal(done, false, 'still following a container that runs');
    stop.abort();
    await following;
    await fake.closed;
    assert.deepEqual(got, ['first\n']);
  } finally {
    fake.close();
  }
});

test('the stream ends (the container stopped): the follow resolves with all text, a character split over frames whole', async () => {
  const euro = Buffer.from('€\n'); // 3 bytes, then a newline
  const fake = await fakeEngine((res) => {
    res.write(frame(Buffer.from('a\n')));
    res.write(frame(euro.subarray(0, 1)));
    setTimeout(() => res.end(frame(euro.subarray(1))), 50);
  });
  try {
    let all = '';
    await new DockerEngine(fake.socket).followLogs(ID, 10, new AbortController().signal, async (t) => {
      all += t;
    });
    assert.equal(all, 'a\n€\n');
  } finally {
    fake.close();
  }
});
