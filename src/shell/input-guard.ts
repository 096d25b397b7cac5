/**
 * Everything a user types reaches readline and inquirer through this guard.
 *
 * Why: readline and inquirer handle a terminal's input one key at a time, and
 * inquirer redraws its whole answer on every key, so a pasted line of n bytes
 * costs them O(n²) work, all inside one turn of the event loop: 100 KB pasted
 * into a wizard kept a server busy for minutes, and every other session (and
 * SIGTERM) waited. The guard bounds that work at its cause:
 *
 * - a line at the command prompt may be at most `lineMax` bytes, and all that
 *   is typed into one wizard question at most `answerMax` bytes; past that the
 *   rest of the line is dropped, unseen by readline/inquirer, and the shell is
 *   told once (`onOverflow`) so it can say "line too long";
 * - at the prompt the limit holds for the line readline actually holds, not
 *   for the bytes typed: readline's keys also grow a line without typing it
 *   (history recall, yank, undo, completion) or leave it whole while a typed
 *   count would start again (Ctrl-U with the cursor at the start). So the
 *   guard hands on either a run of plain text or exactly one key per slice,
 *   measures the line (`lineLength`) before each, counts text from there, and
 *   hands on Enter only once the measured line is within the limit;
 * - input is handed on in small slices, one per turn of the event loop, so
 *   other sessions' work interleaves with any burst;
 * - nothing is handed on while the shell runs a command (`hold`), while the
 *   reader is paused, or while output waits for the client to read it, so
 *   neither queued lines nor unread redraws grow memory; the source is paused
 *   instead, which lets SSH flow control stop the sender.
 *
 * Without a terminal, input is passed on in whole lines only, so a dropped
 * over-long line leaves no fragment behind. On a terminal, characters that
 * would act on it when echoed (C1 controls, bidi and zero-width characters)
 * are handed on as U+FFFD (visible-text.ts), and three keys are not handed
 * on at all (found by fuzzing, test/ssh/fuzz-shell-inprocess.test.ts):
 * - Ctrl-Z: readline (also inside inquirer) answers it by sending SIGTSTP to
 *   its own process, which stopped the whole server, every user's session
 *   with it, wherever its process group is not orphaned (dcm-server in the
 *   foreground of a shell, as scripts/up.sh runs it; a test runner). The
 *   shell has no jobs to suspend, so the key does nothing.
 * - Ctrl-\ and Ctrl-] (FS, GS): readline has no binding for them and inserts
 *   them into the line as text, so they were echoed raw to the terminal.
 */
import { PassThrough, type Writable } from 'node:stream';
import { VisibleText } from './visible-text.js';

/** Longest line accepted at the command prompt, in bytes. */
const LINE_MAX_BYTES = 4096;
/** Most bytes typed into one wizard question (answer, arrow keys, corrections together). */
const ANSWER_MAX_BYTES = 256;

/** Bytes handed on per turn of the event loop: at the prompt, and in a wizard question (where each key redraws the answer). */
const LINE_SLICE = 256;
const ANSWER_SLICE = 32;
/** Bytes read ahead from the source before it is paused. */
const QUEUE_MAX = 64 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const CTRL_C = 0x03;
const CTRL_Y = 0x19;
const CTRL_Z = 0x1a;
const FS = 0x1c;
const GS = 0x1d;
const ESC = 0x1b;
/**
 * Most bytes of one escape sequence: readline's longest, ESC ESC [ [ 1 2 3 ; 5 ~,
 * is 10 characters, the last of which may take 4 bytes.
 */
const ESCAPE_MAX = 16;
const EMPTY = Buffer.alloc(0);

/** Bytes readline reads as keys (Enter, Ctrl-…, Backspace, ESC), not as text to insert. */
const isKeyByte = (c: number) => c < 0x20 || c === 0x7f;
/** Keys never handed on to readline or inquirer on a terminal (see above). */
const isDroppedKey = (c: number) => c === CTRL_Z || c === FS || c === GS;

export interface GuardOptions {
  /** Characters pass at once (echo, line editing); without a terminal, whole lines. */
  terminal: boolean;
  /** Output of the same session: input waits while it is backed up. */
  output: NodeJS.WritableStream;
  lineMax?: number;
  answerMax?: number;
}

/** What readline needs of a terminal input, mirrored from the source. */
type TtyLike = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

export class InputGuard {
  /** Read this instead of the source. */
  readonly input: PassThrough & { isTTY?: boolean; isRaw?: boolean; setRawMode?: (mode: boolean) => unknown };
  /** Told once per over-long line or answer, with the limit it went over. */
  onOverflow: ((limit: number) => void) | null = null;
  /**
   * Bytes of the line the reader holds at the prompt (readline's `line`).
   * Without it, only typed bytes are counted, which history and yank get around.
   */
  lineLength: (() => number) | null = null;
  /**
   * Told when Ctrl-C is typed on a terminal while a command runs (input is
   * held): the key interrupts the command, as in a login shell, and what was
   * typed ahead before it is dropped.
   */
  onInterrupt: (() => void) | null = null;

  readonly lineMax: number;
  readonly answerMax: number;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private held = false;
  private answering = false;
  /** Bytes of the current line (at the prompt: as measured, plus text handed on since) or answer (in a wizard). */
  private count = 0;
  /** At the prompt: an escape sequence being read (it may go on in the next piece of input), and the bytes it may still take. */
  private escape: { stage: 'start' | 'params' | 'char'; left: number } | null = null;
  /** Dropping the rest of an over-long line, up to its end. */
  private dropping = false;
  /** Without a terminal: the current line, kept until it is complete. */
  private partial: Buffer[] = [];
  private sourceEnded = false;
  private readonly visible = new VisibleText();
  private closed = false;
  private scheduled = false;
  private waiting = false;
  private readonly onData = (d: Buffer | string) => this.take(typeof d === 'string' ? Buffer.from(d) : d);
  private readonly onEnd = () => {
    this.sourceEnded = true;
    const d = this.diverted;
    if (d) d.busy = d.busy.then(d.onEnd);
    this.schedule();
  };

  constructor(
    private readonly source: TtyLike,
    private readonly o: GuardOptions,
  ) {
    this.lineMax = o.lineMax ?? LINE_MAX_BYTES;
    this.answerMax = o.answerMax ?? ANSWER_MAX_BYTES;
    const face = new PassThrough() as InputGuard['input'];
    if (source.isTTY) {
      face.isTTY = true;
      face.isRaw = false;
      face.setRawMode = (mode: boolean) => {
        face.isRaw = mode;
        source.setRawMode?.(mode);
        return face;
      };
    }
    // The reader resuming is a reason to hand on more.
    face.on('resume', () => this.schedule());
    this.input = face;
    source.on('data', this.onData);
    source.once('end', this.onEnd);
    source.once('close', this.onEnd);
    source.resume();
  }

  /** Stops handing on input (a command runs); what arrives meanwhile waits. */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.schedule();
  }

  /** A wizard question starts: its own byte budget, counted across Enter too. */
  answerMode(): void {
    this.answering = true;
    this.count = 0;
  }

  /** Back at the command prompt. */
  lineMode(): void {
    this.answering = false;
    this.count = 0;
  }

  /** Stops reading; what was not handed on is dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.source.removeListener('data', this.onData);
    this.source.removeListener('end', this.onEnd);
    this.source.removeListener('close', this.onEnd);
    this.source.pause();
    this.queue.length = 0;
    this.queued = 0;
    this.input.end();
  }

  /**
   * Hands every byte from the source to `onData` instead (an attached job
   * reads the input: keys as they are, Ctrl-C included, nothing measured or
   * sliced), each piece awaited before more is read; what was typed ahead
   * while the command ran goes first. `onEnd` at the source's end. Returns
   * the function that puts the guard back as it was.
   */
  divert(onData: (d: Buffer) => Promise<void>, onEnd: () => void): () => void {
    const d = { onData, onEnd, busy: Promise.resolve() };
    this.diverted = d;
    const ahead = this.queue.splice(0);
    this.queued = 0;
    for (const b of ahead) this.toDiverted(b);
    if (this.sourceEnded) d.busy = d.busy.then(onEnd);
    this.source.resume();
    return () => {
      if (this.diverted === d) this.diverted = null;
    };
  }

  private diverted: { onData: (d: Buffer) => Promise<void>; onEnd: () => void; busy: Promise<void> } | null = null;

  private toDiverted(b: Buffer): void {
    const d = this.diverted!;
    this.source.pause();
    d.busy = d.busy.then(() => d.onData(b)).then(() => void (this.closed || this.diverted !== d || this.source.resume()));
  }

  private take(d: Buffer): void {
    if (this.closed) return;
    if (this.diverted) return this.toDiverted(d);
    const ctrlC = this.held && this.o.terminal && this.onInterrupt ? d.lastIndexOf(CTRL_C) : -1;
    if (ctrlC >= 0) {
      this.queue.length = 0;
      this.queued = 0;
      this.source.resume();
      this.onInterrupt!();
      d = d.subarray(ctrlC + 1);
      if (d.length === 0) return;
    }
    this.queue.push(d);
    this.queued += d.length;
    if (this.queued >= QUEUE_MAX) this.source.pause();
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Hands on one slice, when the reader and the output are ready for it. */
  private pump(): void {
    if (this.closed || this.held || this.waiting) return;
    const face = this.input;
    const atPrompt = this.o.terminal && !this.answering;
    if (this.queued === 0) {
      if (!this.sourceEnded) return;
      // readline passes on the unfinished line when its input ends: measure it first, as before Enter.
      if (atPrompt) {
        if (face.readableFlowing !== true) return;
        if (face.readableLength > 0) return this.schedule();
        this.measureLine();
      }
      return this.finish();
    }
    // A paused reader: wait for it ('resume' schedules again); one still being handed the last slice: look again next turn.
    if (face.readableFlowing !== true) return;
    if (face.readableLength > 0) return this.schedule();
    const out = this.o.output as NodeJS.WritableStream & Partial<Pick<Writable, 'writableNeedDrain'>>;
    if (out.writableNeedDrain) {
      this.waiting = true;
      out.once('drain', () => {
        this.waiting = false;
        this.schedule();
      });
      return;
    }
    let pass: Buffer;
    if (!this.o.terminal) pass = this.filterLines(this.next(LINE_SLICE));
    else if (this.answering) pass = this.filterAnswer(this.next(ANSWER_SLICE));
    else pass = this.promptSlice();
    // On a terminal what is handed on is echoed: no typed character may act on the terminal from there.
    if (this.o.terminal) pass = this.visible.pass(pass);
    if (pass.length) face.write(pass);
    if (this.queued < QUEUE_MAX / 2) this.source.resume();
    this.schedule();
  }

  private next(max: number): Buffer {
    return this.takeBytes(Math.min(max, this.queue[0]!.length));
  }

  /** The first n bytes of the queue's head. */
  private takeBytes(n: number): Buffer {
    const head = this.queue[0]!;
    if (n === head.length) {
      this.queue.shift();
      this.queued -= n;
      return head;
    }
    this.queue[0] = head.subarray(n);
    this.queued -= n;
    return head.subarray(0, n);
  }

  private overflow(): void {
    this.dropping = true;
    this.onOverflow?.(this.answering ? this.answerMax : this.lineMax);
  }

  /** At the prompt, before a slice: the line readline holds is where the count starts; over the limit, it is dropped. */
  private measureLine(): void {
    if (this.dropping || !this.lineLength) return;
    const held = this.lineLength();
    if (held > this.lineMax) this.overflow();
    else this.count = held;
  }

  /**
   * Terminal, at the prompt: one slice is a run of text or one key, measured
   * before. Text is counted on top of the measured line; a key is not (its
   * effect is measured before the next slice, and Enter is a key of its own).
   * An over-long line's rest is dropped up to its end (Enter, or Ctrl-C).
   */
  private promptSlice(): Buffer {
    this.measureLine();
    const { bytes, text } = this.nextKey();
    if (this.dropping) {
      const c = bytes[0]!;
      if (!text && (c === CR || c === LF || c === CTRL_C)) {
        this.dropping = false;
        this.count = 0;
        if (c === CTRL_C) return bytes;
      }
      return EMPTY;
    }
    if (text) {
      this.count += bytes.length;
      // The whole slice is dropped: the shell wipes the line anyway, and no piece of it may reach the next one.
      if (this.count > this.lineMax) {
        this.overflow();
        return EMPTY;
      }
    } else if (bytes.length === 1 && (bytes[0] === CR || bytes[0] === LF || bytes[0] === CTRL_C)) {
      this.count = 0; // the line ends (counted again from the measured line when there is one)
    } else if (bytes.length === 1 && isDroppedKey(bytes[0]!)) {
      return EMPTY; // readline would stop the server's process, or echo the key raw (see above)
    }
    return bytes;
  }

  /** At the prompt: takes the next run of text (up to a slice), or one key: a key byte, or an escape sequence. */
  private nextKey(): { bytes: Buffer; text: boolean } {
    const head = this.queue[0]!;
    let n = 0;
    if (head[0] === ESC) {
      this.escape = { stage: 'start', left: ESCAPE_MAX - 1 };
      n = 1;
    }
    // An escape sequence is one key, also when its bytes come in two pieces of input.
    while (this.escape && n < head.length) {
      const step = this.escapeStep(head[n]!);
      if (step === 'after') this.escape = null;
      else n++;
    }
    if (n > 0) return { bytes: this.takeBytes(n), text: false };
    if (isKeyByte(head[0]!)) return { bytes: this.takeBytes(1), text: false };
    const end = Math.min(head.length, LINE_SLICE);
    while (n < end && !isKeyByte(head[n]!)) n++;
    return { bytes: this.takeBytes(n), text: true };
  }

  /**
   * Whether byte c still belongs to the escape sequence being read, as
   * readline reads them: ESC [ or ESC O, digits, ';', then one final
   * character; or ESC and one character (Meta). At most ESCAPE_MAX bytes, so
   * text can never pass as part of a key uncounted for long.
   */
  private escapeStep(c: number): 'in' | 'last' | 'after' {
    const e = this.escape!;
    if (isKeyByte(c) || e.left === 0) return 'after';
    e.left--;
    let step: 'in' | 'last';
    if (e.stage === 'char') {
      // The rest of a character of several bytes.
      if (c < 0x80 || c > 0xbf) return 'after';
      step = 'in';
    } else if (e.stage === 'start' && (c === 0x5b || c === 0x4f)) {
      e.stage = 'params'; // ESC [ or ESC O
      step = 'in';
    } else if (e.stage === 'params' && ((c >= 0x30 && c <= 0x39) || c === 0x3b || c === 0x5b)) {
      step = 'in';
    } else if (c >= 0xc0) {
      e.stage = 'char'; // a final character of several bytes
      step = 'in';
    } else step = 'last';
    if (step === 'last') this.escape = null;
    return step;
  }

  /** Terminal, in a wizard question: every byte counts against the answer's budget; an over-long answer's rest is dropped up to its end. */
  private filterAnswer(b: Buffer): Buffer {
    const keep: number[] = [];
    for (const c of b) {
      const ends = c === CR || c === LF || c === CTRL_C;
      if (this.dropping) {
        if (ends) {
          this.dropping = false;
          this.count = 0;
          if (c === CTRL_C) keep.push(c);
        }
        continue;
      }
      if (c === CTRL_C) {
        this.count = 0;
        keep.push(c);
        continue;
      }
      // Yank inserts killed text without typing it: repeated, it doubles an answer per key.
      if (c === CTRL_Y || isDroppedKey(c)) continue;
      if (++this.count > this.answerMax) {
        keep.length = 0; // nothing of the cancelled answer is handed on
        this.overflow();
        continue;
      }
      keep.push(c);
    }
    return keep.length === b.length ? b : Buffer.from(keep);
  }

  /** No terminal: only complete lines pass; an over-long one is dropped whole. */
  private filterLines(b: Buffer): Buffer {
    const out: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < b.length; i++) {
      if (b[i] !== LF) continue;
      if (this.dropping) this.dropping = false;
      else if (this.count + (i - start) > this.lineMax) this.onOverflow?.(this.lineMax);
      else out.push(...this.partial, b.subarray(start, i + 1));
      this.partial = [];
      this.count = 0;
      start = i + 1;
    }
    const rest = b.subarray(start);
    if (rest.length && !this.dropping) {
      if (this.count + rest.length > this.lineMax) {
        this.partial = [];
        this.count = 0;
        this.overflow();
      } else {
        this.partial.push(Buffer.from(rest));
        this.count += rest.length;
      }
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The source ended and everything was handed on: the last unfinished line goes too, then the end. */
  private finish(): void {
    if (this.closed) return;
    if (!this.o.terminal && this.partial.length && !this.dropping) this.input.write(Buffer.concat(this.partial));
    this.partial = [];
    this.closed = true;
    this.source.removeListener('data', this.onData);
    this.input.end();
  }
}
