/**
 * A TTY face for an SSH channel with a pty: readline and inquirer expect a
 * terminal (isTTY, columns/rows, setRawMode, 'resize' events), and the client's
 * terminal is in raw mode, so line feeds must become CR LF here because no
 * kernel line discipline sits in between.
 */
import { PassThrough, Writable, type Duplex } from 'node:stream';

/** Terminal size as the pty request and window-change messages give it. */
export interface TermSize {
  cols: number;
  rows: number;
}

/** Input side: what readline probes on a terminal input stream. */
export interface TtyInput extends PassThrough {
  isTTY: true;
  isRaw: boolean;
  /** The client's terminal is already raw; nothing to switch here. */
  setRawMode(mode: boolean): TtyInput;
}

/** Output side: columns/rows for layout, 'resize' when the window changes. */
export interface TtyOutput extends Writable {
  isTTY: true;
  columns: number;
  rows: number;
  getColorDepth(): number;
  hasColors(count?: number): boolean;
}

/** The pair of streams plus the way to report a window change. */
export interface ChannelTty {
  input: TtyInput;
  output: TtyOutput;
  resize(size: TermSize): void;
}

const CR = 0x0d;
const LF = 0x0a;

/** Inserts CR before every LF that lacks one. `prevCr` carries state across chunks. */
export function toCrLf(buf: Buffer, prevCr: boolean): { out: Buffer; endsCr: boolean } {
  let extra = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === LF && (i > 0 ? buf[i - 1] !== CR : !prevCr)) extra++;
  if (extra === 0) return { out: buf, endsCr: buf.length ? buf[buf.length - 1] === CR : prevCr };
  const out = Buffer.allocUnsafe(buf.length + extra);
  let j = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === LF && (i > 0 ? buf[i - 1] !== CR : !prevCr)) out[j++] = CR;
    out[j++] = buf[i]!;
  }
  return { out, endsCr: buf[buf.length - 1] === CR };
}

/** Byte stream that converts LF to CR LF on the way to `dest` and respects its back-pressure. */
export function crlfWriter(dest: NodeJS.WritableStream): Writable {
  let prevCr = false;
  return new Writable({
    write(chunk: Buffer | string, enc, cb) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, enc) : chunk;
      const r = toCrLf(buf, prevCr);
      prevCr = r.endsCr;
      if (dest.write(r.out)) cb();
      else dest.once('drain', () => cb());
    },
  });
}

export function channelTty(channel: Duplex, size: TermSize, colourDepth: number): ChannelTty {
  const input = Object.assign(new PassThrough(), {
    isTTY: true as const,
    isRaw: true,
    setRawMode(this: TtyInput, mode: boolean) {
      this.isRaw = mode;
      return this;
    },
  }) as TtyInput;
  channel.pipe(input);
  const output = Object.assign(crlfWriter(channel), {
    isTTY: true as const,
    columns: size.cols || 80,
    rows: size.rows || 24,
    getColorDepth: () => colourDepth,
    hasColors: (count = 16) => 2 ** colourDepth >= count,
  }) as TtyOutput;
  return {
    input,
    output,
    resize(s) {
      output.columns = s.cols || output.columns;
      output.rows = s.rows || output.rows;
      output.emit('resize');
    },
  };
}
