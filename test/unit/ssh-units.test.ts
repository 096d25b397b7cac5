/** The SSH doors' pure pieces: throttle, session slots, CR LF, colour, listen address, completion. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressThrottle } from '../../src/ssh/throttle.js';
import { SessionSlots } from '../../src/ssh/session-slots.js';
import { toCrLf } from '../../src/ssh/tty-face.js';
import { parseListen } from '../../src/ssh/listen.js';
import { loadOrCreateHostKey } from '../../src/ssh/host-key.js';
import { colourLevel } from '../../src/shell/colour.js';
import { makeCompleter } from '../../src/shell/completer.js';
import { Store } from '../../src/store/store.js';

test('throttle: bans after N failures in the window, for ban time, per address', () => {
  let now = 0;
  const t = new AddressThrottle({ maxFailures: 3, windowMs: 1000, banMs: 5000 }, () => now);
  assert.equal(t.fail('a'), false);
  now = 2000; // the first failure left the window
  t.fail('a');
  assert.equal(t.fail('a'), false);
  assert.equal(t.fail('a'), true);
  assert.equal(t.banned('a'), true);
  assert.equal(t.banned('b'), false);
  t.succeed('a'); // a success does not lift a running ban
  assert.equal(t.banned('a'), true);
  now += 5001;
  assert.equal(t.banned('a'), false);
});

test('throttle: memory is bounded', () => {
  const t = new AddressThrottle({ maxFailures: 100, windowMs: 1000, banMs: 1000, maxTracked: 10 });
  for (let i = 0; i < 1000; i++) t.fail(`10.0.${i >> 8}.${i & 255}`);
  assert.ok((t as unknown as { seen: Map<string, unknown> }).seen.size <= 10);
});

test('session slots: limit per user, release once', () => {
  const s = new SessionSlots(2);
  const a = s.take('alice')!;
  const b = s.take('alice')!;
  assert.equal(s.take('alice'), null);
  assert.ok(s.take('bob'));
  a();
  a();
  assert.equal(s.count('alice'), 1);
  assert.ok(s.take('alice'));
  b();
});

test('CR LF: bare LF gains CR, CR LF is kept, state carries across chunks', () => {
  assert.equal(toCrLf(Buffer.from('a\nb\r\nc\n'), false).out.toString(), 'a\r\nb\r\nc\r\n');
  const first = toCrLf(Buffer.from('x\r'), false);
  assert.equal(first.endsCr, true);
  assert.equal(toCrLf(Buffer.from('\ny'), first.endsCr).out.toString(), '\ny');
  assert.equal(toCrLf(Buffer.from('héllo\n'), false).out.toString(), 'héllo\r\n');
});

test('colour level: NO_COLOR, dumb, no terminal, 256 colours', () => {
  assert.equal(colourLevel('xterm-256color', true, true), 0);
  assert.equal(colourLevel('dumb', false, true), 0);
  assert.equal(colourLevel('xterm', false, false), 0);
  assert.equal(colourLevel(undefined, false, true), 0);
  assert.equal(colourLevel('xterm', false, true), 1);
  assert.equal(colourLevel('xterm-256color', false, true), 2);
});

test('listen address parsing', () => {
  assert.deepEqual(parseListen('127.0.0.1:2222'), { host: '127.0.0.1', port: 2222 });
  assert.deepEqual(parseListen('[::1]:22'), { host: '::1', port: 22 });
  assert.throws(() => parseListen('2222'), /ADDR:PORT/);
  assert.throws(() => parseListen('0.0.0.0:70000'), /ADDR:PORT/);
});

test('host key: made once, then reused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcm-hk-'));
  try {
    const a = loadOrCreateHostKey(dir);
    const b = loadOrCreateHostKey(dir);
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.match(a.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('completion: commands, own containers only, own images, flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcm-comp-'));
  const store = Store.open(join(dir, 'dcm.db'));
  try {
    store.users.insert({ name: 'alice', uid: 1, gid: 1 });
    store.users.insert({ name: 'bob', uid: 2, gid: 2 });
    const row = { image_ref: 'x', image_id: 'sha256:1', ip: '127.0.0.1', instance: 't' };
    store.containers.insert({ id: 31001, owner: 'alice', name: 'web', ...row });
    store.containers.insert({ id: 31002, owner: 'bob', name: 'secret', ...row });
    store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: 'sha256:b', owner: null, source: null });
    store.images.insert({ ref: 'dcm/u/alice/mine:v1', docker_id: 'sha256:c', owner: 'alice', source: null });
    store.images.insert({ ref: 'dcm/u/bob/theirs:v1', docker_id: 'sha256:d', owner: 'bob', source: null });
    const c = makeCompleter(store, 'alice');
    assert.deepEqual(c('sh')[0], ['show']);
    assert.deepEqual(c('ex')[0], ['exec', 'exit']);
    assert.deepEqual(c('run ')[0], ['dcm/debian-base:bookworm', 'mine:v1']);
    assert.deepEqual(c('stop ')[0], ['31001', 'web']);
    assert.deepEqual(c('rm s')[0], [], "another user's container is never offered");
    assert.deepEqual(c('create ')[0], ['dcm/debian-base:bookworm', 'mine:v1']);
    assert.deepEqual(c('rmi ')[0], ['mine:v1']);
    assert.ok(c('rm --')[0].includes('--force'));
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
