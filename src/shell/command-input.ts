/**
 * The caller's side that only attached commands (`run`, `attach`, `exec`)
 * read: their terminal (its size and changes) and their input. Each door
 * gives CommandCore one: the SSH channel and its pty, the process's own
 * stdin and terminal, the command socket's input frames, the interactive
 * shell's terminal. No other command reads input, and a door reads none
 * until a command opens it.
 */
import type { TtySize } from '../engine/engine.js';

export type { TtySize };

export interface CommandInput {
  /** The caller's terminal size; null when the caller has no terminal (a pipe, ssh without -t). */
  readonly terminal: TtySize | null;
  /**
   * Starts handing the caller's input on, each piece awaited before the next
   * (a slow container holds the caller back); `onEnd` at its end (EOF).
   * `raw`: the caller's terminal passes every key as it is, Ctrl-C included,
   * until the returned function stops it and puts the terminal back.
   * Absent when the door has no input to give.
   */
  open?(raw: boolean, onData: (data: Buffer) => Promise<void>, onEnd: () => void): () => void;
  /** Tells `listener` each new window size; returns a function that stops telling. */
  onResize?(listener: (size: TtySize) => void): () => void;
}

/** A caller with no terminal and no input (tests, benchmarks, a door that has none). */
export const NO_INPUT: CommandInput = { terminal: null };
