/**
 * The caller's input on the local command socket (command-protocol.ts), for
 * the attached commands: the door sends nothing until a command opens its
 * input ({"stdin":{raw}}); then its frames are handed on one at a time, the
 * socket read no faster than the container takes them. Frames that arrive
 * while no command reads input are dropped; a malformed one ends the input.
 */
import type { CommandInput, TtySize } from '../shell/command-input.js';
import { MAX_IN_FRAME_BYTES, type TermFact } from '../local/command-protocol.js';
import type { SocketOutput } from './socket-output.js';

/** A size a terminal may really have: anything else is ignored. */
function sizeOf(v: unknown): TtySize | null {
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [cols, rows] = v as unknown[];
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) > 0 && (n as number) <= 10000;
  return ok(cols) && ok(rows) ? { cols: cols as number, rows: rows as number } : null;
}

export class SocketInput implements CommandInput {
  readonly terminal: TtySize | null;
  private reader: { onData: (d: Buffer) => Promise<void>; onEnd: () => void } | null = null;
  private readonly resizers = new Set<(s: TtySize) => void>();

  constructor(
    tty: TermFact | undefined,
    private readonly out: SocketOutput,
  ) {
    this.terminal = sizeOf(tty);
  }

  open(raw: boolean, onData: (d: Buffer) => Promise<void>, onEnd: () => void): () => void {
    this.reader = { onData, onEnd };
    this.out.stdin({ raw });
    return () => {
      if (!this.reader) return;
      this.reader = null;
      this.out.stdin(null);
    };
  }

  onResize(listener: (s: TtySize) => void): () => void {
    this.resizers.add(listener);
    return () => this.resizers.delete(listener);
  }

  /** One line the door sent after its request; resolves once it was taken. */
  async feed(line: string): Promise<void> {
    let f: Record<string, unknown>;
    try {
      f = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return this.end();
    }
    if (typeof f.in === 'string') {
      const data = Buffer.from(f.in, 'base64');
      if (data.length > MAX_IN_FRAME_BYTES) return this.end();
      if (this.reader && data.length) await this.reader.onData(data);
    } else if (f.eof === 1) this.end();
    else if (f.size !== undefined) {
      const s = sizeOf(f.size);
      if (s) for (const l of this.resizers) l(s);
    }
  }

  /** The door's input ended (EOF, or it went away). */
  end(): void {
    const r = this.reader;
    this.reader = null;
    r?.onEnd();
  }
}
