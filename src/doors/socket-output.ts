/**
 * A command's output on the local command socket, as frames (one JSON object
 * a line, command-protocol.ts) written as the output comes. A write waits
 * while the door is behind; once the socket is gone, output is dropped.
 */
import type { Socket } from 'node:net';
import type { CommandOutput, LineKind } from '../shell/command-output.js';
import { writeDrained } from '../shell/writable-output.js';
import { MAX_OUT_FRAME_CHARS, type ReplyFrame } from '../local/command-protocol.js';

export class SocketOutput implements CommandOutput {
  constructor(
    private readonly sock: Socket,
    readonly admin: boolean,
  ) {}

  async write(text: string): Promise<void> {
    // Long text goes in several frames, never cutting a character in two (a surrogate pair).
    for (let at = 0; at < text.length; ) {
      let end = Math.min(at + MAX_OUT_FRAME_CHARS, text.length);
      if (end < text.length && /[\udc00-\udfff]/.test(text[end]!)) end--;
      await this.send({ out: text.slice(at, end) });
      at = end;
    }
  }

  async raw(data: Buffer, to: 'stdout' | 'stderr'): Promise<void> {
    for (let at = 0; at < data.length; at += MAX_OUT_FRAME_CHARS) {
      const b64 = data.subarray(at, at + MAX_OUT_FRAME_CHARS).toString('base64');
      await this.send(to === 'stdout' ? { o: b64 } : { e: b64 });
    }
  }

  /** Asks the door for its input ({raw}), or tells it to stop (null). */
  stdin(mode: { raw: boolean } | null): void {
    void this.send({ stdin: mode });
  }

  line(text: string, kind: LineKind): void {
    void this.send(kind === 'error' ? { err: text } : { progress: text });
  }

  /** A sign of life while the command is quiet. */
  alive(): void {
    void this.send({ alive: 1 });
  }

  /** The exit code, last; then the server's side closes. */
  end(code: number): void {
    if (this.gone()) return;
    this.sock.end(frame({ code }));
  }

  private send(f: ReplyFrame): Promise<void> {
    if (this.gone()) return Promise.resolve();
    return writeDrained(this.sock, frame(f));
  }

  private gone(): boolean {
    return this.sock.destroyed || this.sock.writableEnded;
  }
}

const frame = (f: ReplyFrame) => JSON.stringify(f) + '\n';
