/**
 * The shell's input guard on its own: line and answer caps, whole lines
 * without a terminal, holding while a command runs, waiting for output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { InputGuard } from '../../src/shell/input-guard.js';

// The guard hands input on one slice per turn of the event loop: give it a few.
const tick = () => new Promise((r) => setTimeout(r, 100));

function rig(terminal: boolean, output: NodeJS.WritableStream = new PassThrough().resume()) {
  const source = new PassThrough();
  const g = new InputGuard(source, { terminal, output, lineMax: 8, answerMax: 5 });
  let seen = '';
  const overflows: number[] = [];
  g.input.on('data', (d: Buffer) => (seen += d.toString()));
  g.onOverflow = (n) => overflows.push(n);
  return { source, g, seen: () => seen, overflows };
}

test('terminal: a line over the cap is cut, reported once, and its rest dropped up to Enter', async () => {
  const r = rig(true);
  r.source.write('abcdefghijklmnop\rok\r');
  await tick();
  assert.equal(r.seen(), 'abcdefghok\r');
  assert.deepEqual(r.overflows, [8]);
  r.g.close();
});

test('terminal: Ctrl-C ends the dropping and passes; Ctrl-U starts the count again', async () => {
  const r = rig(true);
  r.source.write('1234567\x15' + '1234567\r' + 'xxxxxxxxxxxx\x03ab');
  await tick();
  assert.equal(r.seen(), '1234567\x151234567\rxxxxxxxx\x03ab');
  assert.deepEqual(r.overflows, [8]);
  r.g.close();
});

test('wizard question: the budget counts across Enter and starts again with the next question', async () => {
  const r = rig(true);
  r.g.answerMode();
  r.source.write('ab\rcd\ref\r');
  await tick();
  assert.equal(r.seen(), 'ab\rcd');
  assert.deepEqual(r.overflows, [5]);
  r.g.answerMode();
  r.source.write('xy\r');
  await tick();
  assert.equal(r.seen(), 'ab\rcdxy\r');
  r.g.close();
});

test('no terminal: only whole lines pass; an over-long one is dropped whole; the last line passes at the end', async () => {
  const r = rig(false);
  r.source.write('short\nmuch too long a line\nnext\nla');
  r.source.end('st');
  await tick();
  assert.equal(r.seen(), 'short\nnext\nlast');
  assert.deepEqual(r.overflows, [8]);
});

test('held: nothing passes until released', async () => {
  const r = rig(true);
  r.g.hold();
  r.source.write('abc');
  await tick();
  assert.equal(r.seen(), '');
  r.g.release();
  await tick();
  assert.equal(r.seen(), 'abc');
  r.g.close();
});

test('output not read by the client: input waits for it to drain', async () => {
  let release: (() => void) | null = null;
  const slow = new Writable({ highWaterMark: 4, write: (_c, _e, cb) => (release = cb) });
  const r = rig(true, slow);
  slow.write('12345678'); // over the high-water mark: the writer now waits for 'drain'
  r.source.write('abc');
  await tick();
  assert.equal(r.seen(), '');
  release!();
  await tick();
  assert.equal(r.seen(), 'abc');
  r.g.close();
});
