/**
 * This process's own terminal and stdin as a command's input (a one-shot
 * door: `sudo dcm run ...`, a forced-command dcm-shell). Nothing is read
 * until a command opens the input; while it is open and raw, the terminal
 * passes every key on (Ctrl-C included: it reaches the job's terminal, not
 * this process), and it is put back when the input is closed or the process
 * exits.
 */
import type { CommandInput, TtySize } from '../shell/command-input.js';

const sizeNow = (): TtySize | null =>
  process.stdin.isTTY && process.stdout.isTTY ? { cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 } : null;

let restoreAtExit = false;

export function processInput(): CommandInput {
  return {
    terminal: sizeNow(),
    open(raw, onData, onEnd) {
      const stdin = process.stdin;
      const makeRaw = raw && stdin.isTTY === true;
      if (makeRaw) {
        stdin.setRawMode(true);
        if (!restoreAtExit) {
          restoreAtExit = true;
          process.once('exit', () => process.stdin.isTTY && process.stdin.setRawMode(false));
        }
      }
      let busy = Promise.resolve();
      const onChunk = (d: Buffer) => {
        stdin.pause();
        busy = busy.then(() => onData(d)).then(() => void stdin.resume());
      };
      const onStdinEnd = () => void busy.then(onEnd);
      stdin.on('data', onChunk);
      stdin.once('end', onStdinEnd);
      stdin.resume();
      return () => {
        stdin.off('data', onChunk);
        stdin.off('end', onStdinEnd);
        stdin.pause();
        if (makeRaw) stdin.setRawMode(false);
      };
    },
    onResize(listener) {
      const tell = () => {
        const s = sizeNow();
        if (s) listener(s);
      };
      process.stdout.on('resize', tell);
      return () => process.stdout.off('resize', tell);
    },
  };
}
