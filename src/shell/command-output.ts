/**
 * Where a command's output goes while it runs. Each door gives CommandCore one
 * and passes what arrives on at once: an SSH channel, the interactive shell's
 * terminal, the local command socket's frames, a process's stdout and stderr.
 *
 * - stdout comes in chunks. `write` resolves once the door can take more, so
 *   a command that prints for as long as it runs (`logs -f`) never gets ahead
 *   of a client that reads slowly; it never rejects (a door that has gone away
 *   drops the text).
 * - stderr comes in whole lines: `progress` says what a long command is doing
 *   now (create, commit), `error` is the one line a failed command ends with.
 * - The exit code comes last: it is what CommandCore.stream resolves with,
 *   after all output was handed over.
 *
 * With --json, stdout carries exactly one JSON document, written when the
 * command has finished, and progress lines are not written at all: a script
 * reads one document and the exit code, and stderr stays empty on success.
 */
export type LineKind = 'progress' | 'error';

export interface CommandOutput {
  /** Part of standard output, as the command produces it. */
  write(text: string): Promise<void>;
  /**
   * Bytes a process in a container printed (an attached job or exec), passed
   * on exactly as they came, to stdout or stderr; resolves when more may come.
   */
  raw(data: Buffer, to: 'stdout' | 'stderr'): Promise<void>;
  /** One line for standard error, without its newline. */
  line(text: string, kind: LineKind): void;
  /**
   * The reader is an administrator (root acting for a user): a storage
   * failure's line then says where the failure is, not only what it means.
   */
  readonly admin?: boolean;
}

/** What a command itself is handed to stream with (CommandContext.out). */
export interface CommandStream {
  /**
   * Writes part of standard output now. Only for text mode: with --json a
   * command returns its one document instead.
   */
  write(text: string): Promise<void>;
  /** A progress line on stderr (left out with --json). Short, and each step once. */
  progress(line: string): void;
  /** A container process's own output, bytes as they came (attached jobs and exec; text mode only). */
  raw(data: Buffer, to: 'stdout' | 'stderr'): Promise<void>;
}
