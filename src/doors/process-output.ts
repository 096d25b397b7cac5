/** A command's output on this process's own stdout and stderr, as it comes (a one-shot door). */
import type { CommandOutput } from '../shell/command-output.js';
import { writableOutput } from '../shell/writable-output.js';

export function processOutput(admin = false): CommandOutput {
  return writableOutput(process.stdout, process.stderr, { admin });
}
