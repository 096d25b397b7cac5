/**
 * The shell's input guard on its own: line and answer caps, whole lines
 * without a terminal, holding while a command runs, waiting for output; and
 * with node's own readline reading from it, the cap on the line readline
 * holds, whatever keys built it (Ctrl-U, history, yank).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInterface, type Interface } from 'node:readline';
import { PassThrough, Writable } from 'node:stream';
import { InputGuard } from '../../src/shell/input-guard.js';
import { signalsToSelf } from '../helpers/signals-to-self.js';

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

test('terminal: a line over the cap is reported once, and none of it is handed on up to Enter', async () => {
  const r = rig(true);
  r.source.write('abcdefghijklmnop\rok\r');
  // Until all is handed on: one fixed tick was not always enough on a loaded machine.
  await settle(r.source, r.g);
  assert.equal(r.seen(), 'ok\r');
  assert.deepEqual(r.overflows, [8]);
  r.g.close();
});

test('terminal: Ctrl-C ends the dropping and passes; without a measured line, Ctrl-U does not start the count again', async () => {
  const r = rig(true);
  r.source.write('xxxxxxxxxxxx\x03ab\r' + '1234567\x15' + '1234567\r');
  await tick();
  assert.equal(r.seen(), '\x03ab\r1234567\x15');
  assert.deepEqual(r.overflows, [8, 8]);
  r.g.close();
});

test('terminal: at the prompt, text runs and keys are handed on apart, Enter on its own', async () => {
  const r = rig(true);
  const chunks: string[] = [];
  r.g.input.on('data', (d: Buffer) => chunks.push(d.toString()));
  r.source.write('ab\x1b[Acd\x01\x15e\x1b[1;5Df\x1byg\r');
  await tick();
  assert.deepEqual(chunks, ['ab', '\x1b[A', 'cd', '\x01', '\x15', 'e', '\x1b[1;5D', 'f', '\x1by', 'g', '\r']);
  r.g.close();
});

test('wizard question: Ctrl-Y (yank) is not handed on', async () => {
  const r = rig(true);
  r.g.answerMode();
  r.source.write('ab\x19\x19c\r');
  await tick();
  assert.equal(r.seen(), 'abc\r');
  r.g.close();
});

test('wizard question: the budget counts across Enter and starts again with the next question', async () => {
  const r = rig(true);
  r.g.answerMode();
  r.source.write('ab\r');
  await tick();
  r.source.write('cd\ref\r');
  await tick();
  // The overflowing slice is not handed on: the question is cancelled, and none of it may reach the next reader.
  assert.equal(r.seen(), 'ab\r');
  assert.deepEqual(r.overflows, [5]);
  r.g.answerMode();
  r.source.write('xy\r');
  await tick();
  assert.equal(r.seen(), 'ab\rxy\r');
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

/**
 * The prompt as the shell runs it: node's readline reads from the guard, which
 * measures readline's line; an overflow gets a fresh readline with the same
 * history, as the shell does. Records every line readline gives, the longest
 * line it ever held, and what history keeps.
 */
function promptRig(lineMax = 64) {
  const source = new PassThrough();
  const screen = new PassThrough().resume();
  const g = new InputGuard(source, { terminal: true, output: screen, lineMax });
  const lines: string[] = [];
  const overflows: number[] = [];
  let history: string[] = [];
  let longest = 0;
  let rl!: Interface;
  const open = () => {
    rl = createInterface({ input: g.input, output: screen, terminal: true, history, historySize: 500 });
    rl.on('line', (l) => lines.push(l));
  };
  open();
  // Listeners added after readline's own see the line each key left.
  g.input.on('keypress', () => (longest = Math.max(longest, Buffer.byteLength(rl.line))));
  g.lineLength = () => Buffer.byteLength(rl.line);
  g.onOverflow = (n) => {
    overflows.push(n);
    history = (rl as unknown as { history: string[] }).history;
    rl.close();
    open();
  };
  return {
    source,
    g,
    lines,
    overflows,
    longest: () => longest,
    history: () => (rl as unknown as { history: string[] }).history,
    done: () => {
      rl.close();
      g.close();
    },
  };
}

/** Waits until the guard has handed on everything (one key per turn of the event loop can take a while). */
async function settle(source: PassThrough, g: InputGuard): Promise<void> {
  for (let i = 0; i < 200 && (source.readableLength > 0 || (g as unknown as { queued: number }).queued > 0); i++) await tick();
  await tick();
}

test('prompt: Ctrl-A Ctrl-U wipes nothing and does not start the count again; the line stays within the cap', async () => {
  const r = promptRig();
  r.source.write(('A'.repeat(60) + '\x01\x15').repeat(20) + '\r' + 'whoami\r');
  await settle(r.source, r.g);
  assert.deepEqual(r.overflows, [64]);
  assert.deepEqual(r.lines, ['whoami']);
  assert.ok(r.longest() <= 64, `readline held ${r.longest()} bytes`);
  r.done();
});

test('prompt: a line recalled with up-arrow counts; appending to it overflows, and nothing over the cap enters history', async () => {
  const r = promptRig();
  r.source.write('A'.repeat(60) + '\r' + ('\x1b[A' + 'A'.repeat(60) + '\r').repeat(10) + 'whoami\r');
  await settle(r.source, r.g);
  assert.deepEqual(r.overflows, Array(10).fill(64));
  assert.deepEqual(r.lines, ['A'.repeat(60), 'whoami']);
  assert.ok(r.longest() <= 64, `readline held ${r.longest()} bytes`);
  assert.deepEqual(r.history(), ['whoami', 'A'.repeat(60)]);
  r.done();
});

test('prompt: a line doubled with Ctrl-K and Ctrl-Y is caught after one key, Enter does not pass it, the kill ring forgets it', async () => {
  const r = promptRig();
  r.source.write('A'.repeat(40) + '\x01\x0b\x19\x19'.repeat(30) + '\r');
  await settle(r.source, r.g);
  assert.deepEqual(r.overflows, [64]);
  assert.deepEqual(r.lines, []);
  assert.ok(r.longest() <= 2 * 64, `readline held ${r.longest()} bytes`);
  // A yank on the fresh line brings back nothing.
  r.source.write('\x19\r');
  await settle(r.source, r.g);
  assert.deepEqual(r.lines, ['']);
  r.done();
});

test('prompt: text typed after a key that grew the line counts from the grown line', async () => {
  const r = promptRig();
  // 50 bytes killed, 30 typed, 50 yanked back in front: 80 bytes, before Enter.
  r.source.write('B'.repeat(50) + '\x15' + 'C'.repeat(30) + '\x01\x19' + 'D' + '\r' + 'ok\r');
  await settle(r.source, r.g);
  assert.deepEqual(r.overflows, [64]);
  assert.deepEqual(r.lines, ['ok']);
  r.done();
});

test('prompt: the line readline holds when the input ends is measured before it is passed on', async () => {
  const r = promptRig();
  r.source.end('B'.repeat(50) + '\x15' + 'C'.repeat(30) + '\x19');
  await settle(r.source, r.g);
  assert.deepEqual(r.overflows, [64]);
  assert.deepEqual(r.lines, []);
});

test('terminal: C1 controls, bidi and zero-width characters are handed on as U+FFFD, also when split between two pieces', async () => {
  const source = new PassThrough();
  const g = new InputGuard(source, { terminal: true, output: new PassThrough().resume() });
  let seen = '';
  g.input.on('data', (d: Buffer) => (seen += d.toString()));
  const typed = Buffer.from('a\u009b2J\u202eb\u200bc\u2068d\ufeffe\u00e9\r', 'utf8');
  // U+009B is two bytes: the first piece ends after its first byte.
  source.write(typed.subarray(0, 2));
  await tick();
  source.write(typed.subarray(2));
  await tick();
  assert.equal(seen, 'a\ufffd2J\ufffdb\ufffdc\ufffdd\ufffde\u00e9\r');
  g.close();
});

test('without a terminal nothing is echoed, and lines pass as they came', async () => {
  const r = rig(false);
  r.source.write('a\u009bb\n');
  await tick();
  assert.equal(r.seen(), 'a\u009bb\n');
  r.g.close();
});

test('terminal: Ctrl-Z, Ctrl-\\ and Ctrl-] are not handed on, at the prompt and in a wizard question', async () => {
  const r = rig(true);
  r.source.write('ab\x1acd\x1b\x1ae\x1c\x1df\r');
  await tick();
  assert.equal(r.seen(), 'abcd\x1bef\r');
  r.g.answerMode();
  r.source.write('x\x1ay\x1c\x1dz\r');
  await tick();
  assert.equal(r.seen(), 'abcd\x1bef\rxyz\r');
  r.g.close();
});

test('prompt: Ctrl-Z never makes readline stop the process (SIGTSTP to itself), and the line goes on', async () => {
  const r = promptRig();
  const listeners = process.listenerCount('SIGCONT');
  const sent = await signalsToSelf(async () => {
    r.source.write('\x1awho\x1aami\r');
    await settle(r.source, r.g);
  });
  assert.deepEqual(sent, []);
  assert.equal(process.listenerCount('SIGCONT'), listeners, 'readline waits for SIGCONT');
  assert.deepEqual(r.lines, ['whoami']);
  r.done();
});

test('prompt: Ctrl-\\ and Ctrl-] never reach the line, so they are never echoed raw', async () => {
  const source = new PassThrough();
  let screen = '';
  const output = new Writable({
    write(c, _e, cb) {
      screen += c.toString();
      cb();
    },
  });
  const g = new InputGuard(source, { terminal: true, output });
  const rl = createInterface({ input: g.input, output, terminal: true });
  const lines: string[] = [];
  rl.on('line', (l) => lines.push(l));
  source.write('a\x1cb\x1dc\r');
  await settle(source, g);
  assert.deepEqual(lines, ['abc']);
  assert.ok(!screen.includes('\x1c') && !screen.includes('\x1d'), `echoed: ${JSON.stringify(screen)}`);
  rl.close();
  g.close();
});
