/**
 * A CommandOutput onto Node writables: a process's own stdout and stderr, an
 * SSH channel and its stderr, the interactive shell's terminal. A write that
 * the reader is behind on waits for 'drain'; once `gone` aborts (the client
 * went away) output is dropped, so nothing waits for a reader that left.
 */
import type { CommandOutput, LineKind } from './command-output.js';

export interface WritableOutputOptions {
  admin?: boolean;
  /** Aborted when the reader is gone. */
  gone?: AbortSignal;
  /** How a line looks on its way out (colour in the interactive shell); the newline is added after. */
  style?: (text: string, kind: LineKind) => string;
}

type Sink = NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean };

export function writableOutput(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, o: WritableOutputOptions = {}): CommandOutput {
  return {
    admin: o.admin ?? false,
    write: (text) => writeDrained(stdout, text, o.gone),
    raw: (data, to) => writeDrained(to === 'stdout' ? stdout : stderr, data, o.gone),
    line(text, kind) {
      const s = stderr as Sink;
      if (o.gone?.aborted || s.destroyed || s.writableEnded) return;
      s.write(`${o.style ? o.style(text, kind) : text}\n`);
    },
  };
}

/** Writes, then resolves once the stream can take more (or is gone): at most one chunk waits per writer. */
export function writeDrained(w: NodeJS.WritableStream, text: string | Buffer, gone?: AbortSignal): Promise<void> {
  const s = w as Sink;
  if (!text.length || gone?.aborted || s.destroyed || s.writableEnded) return Promise.resolve();
  if (s.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      s.removeListener('drain', done);
      s.removeListener('close', done);
      s.removeListener('error', done);
      gone?.removeEventListener('abort', done);
      resolve();
    };
    s.once('drain', done);
    s.once('close', done);
    s.once('error', done);
    gone?.addEventListener('abort', done, { once: true });
  });
}
