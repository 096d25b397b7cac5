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
 * - input is handed on in small slices, one per turn of the event loop, so
 *   other sessions' work interleaves with any burst;
 * - nothing is handed on while the shell runs a command (`hold`), while the
 *   reader is paused, or while output waits for the client to read it, so
 *   neither queued lines nor unread redraws grow memory; the source is paused
 *   instead, which lets SSH flow control stop the sender.
 *
 * Without a terminal, input is passed on in whole lines only, so a dropped
 * over-long line leaves no fragment behind.
 */
import { PassThrough, type Writable } from 'node:stream';

/** Longest line accepted at the command prompt, in bytes. */
export const LINE_MAX_BYTES = 4096;
/** Most bytes typed into one wizard question (answer, arrow keys, corrections together). */
export const ANSWER_MAX_BYTES = 256;

/** Bytes handed on per turn of the event loop: at the prompt, and in a wizard question (where each key redraws the answer). */
const LINE_SLICE = 256;
const ANSWER_SLICE = 32;
/** Bytes read ahead from the source before it is paused. */
const QUEUE_MAX = 64 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const CTRL_C = 0x03;
const CTRL_U = 0x15;

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

  readonly lineMax: number;
  readonly answerMax: number;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private held = false;
  private answering = false;
  /** Bytes of the current line (at the prompt) or answer (in a wizard). */
  private count = 0;
  /** Dropping the rest of an over-long line, up to its end. */
  private dropping = false;
  /** Without a terminal: the current line, kept until it is complete. */
  private partial: Buffer[] = [];
  private sourceEnded = false;
  private closed = false;
  private scheduled = false;
  private waiting = false;
  private readonly onData = (d: Buffer | string) => this.take(typeof d === 'string' ? Buffer.from(d) : d);
  private readonly onEnd = () => {
    this.sourceEnded = true;
    this.schedule();
  };

  constructor(private readonly source: TtyLike, private readonly o: GuardOptions) {
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

  private take(d: Buffer): void {
    if (this.closed) return;
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
    if (this.queued === 0) {
      if (this.sourceEnded) this.finish();
      return;
    }
    const face = this.input;
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
    const slice = this.next(this.answering ? ANSWER_SLICE : LINE_SLICE);
    const pass = this.o.terminal ? this.filterKeys(slice) : this.filterLines(slice);
    if (pass.length) face.write(pass);
    if (this.queued < QUEUE_MAX / 2) this.source.resume();
    this.schedule();
  }

  private next(max: number): Buffer {
    const head = this.queue[0]!;
    if (head.length <= max) {
      this.queue.shift();
      this.queued -= head.length;
      return head;
    }
    this.queue[0] = head.subarray(max);
    this.queued -= max;
    return head.subarray(0, max);
  }

  private overflow(): void {
    this.dropping = true;
    this.onOverflow?.(this.answering ? this.answerMax : this.lineMax);
  }

  /** Terminal: keys pass at once; an over-long line's rest is dropped up to its end (Enter, or Ctrl-C). */
  private filterKeys(b: Buffer): Buffer {
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
      // At the prompt a line ends with Enter (or is wiped by Ctrl-U); a wizard question's budget does not reset.
      if (!this.answering && (ends || c === CTRL_U)) {
        this.count = 0;
        keep.push(c);
        continue;
      }
      if (++this.count > (this.answering ? this.answerMax : this.lineMax)) {
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
