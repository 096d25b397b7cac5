/**
 * An SSH session channel as a command's input (command-input.ts): the
 * client's pty size and window changes, and what the client sends. Bytes
 * that come before a command opens the input (`ssh host run -i IMG cat <
 * file` sends at once) are kept, up to EARLY_MAX, then the channel is paused
 * (the SSH window holds the client back); once opened, each chunk is handed
 * on and awaited before more is read.
 */
import type { ServerChannel } from 'ssh2';
import type { CommandInput, TtySize } from '../shell/command-input.js';

const EARLY_MAX = 64 * 1024;

export interface ChannelInput extends CommandInput {
  /** Whether a command reads the input now (then Ctrl-C is a key for it, not a stop). */
  readonly reading: boolean;
  /** A window-change request from the client. */
  resized(size: TtySize): void;
}

export function channelInput(ch: ServerChannel, terminal: TtySize | null): ChannelInput {
  const early: Buffer[] = [];
  let earlyBytes = 0;
  let ended = false;
  let reader: { onData: (d: Buffer) => Promise<void>; onEnd: () => void } | null = null;
  let busy = Promise.resolve();
  const resizers = new Set<(s: TtySize) => void>();

  const take = (d: Buffer) => {
    if (!reader) {
      early.push(d);
      earlyBytes += d.length;
      if (earlyBytes >= EARLY_MAX) ch.pause();
      return;
    }
    const r = reader;
    ch.pause();
    busy = busy.then(() => r.onData(d)).then(() => void (reader && ch.resume()));
  };
  ch.on('data', take);
  ch.once('end', () => {
    ended = true;
    const r = reader;
    if (r) busy = busy.then(() => r.onEnd());
  });

  return {
    terminal,
    get reading() {
      return reader !== null;
    },
    open(_raw, onData, onEnd) {
      // The client's terminal is already raw with a pty (no line discipline here): nothing to switch.
      const r = { onData, onEnd };
      reader = r;
      const kept = early.splice(0);
      earlyBytes = 0;
      busy = busy.then(async () => {
        for (const d of kept) await r.onData(d);
        if (ended) r.onEnd();
      });
      ch.resume();
      return () => {
        if (reader === r) reader = null;
      };
    },
    onResize(listener) {
      resizers.add(listener);
      return () => resizers.delete(listener);
    },
    resized(size) {
      if (terminal) Object.assign(terminal, size);
      for (const l of resizers) l(size);
    },
  };
}
