/** The shape of one shell command, and what it is handed when it runs. */
import type { ContainerManager } from '../manager/container-manager.js';
import type { ImageManager } from '../manager/image-manager.js';
import type { UserManager } from '../manager/user-manager.js';
import type { UserRow } from '../store/users-repo.js';
import type { ArgSpec, ParsedArgs } from '../args/parse.js';
import type { CommandStream } from './command-output.js';
import type { CommandInput } from './command-input.js';

/** A command reaches dcm only through the managers: no store, policy or engine of its own. */
export interface CommandContext {
  user: UserRow;
  containers: ContainerManager;
  images: ImageManager;
  users: UserManager;
  /** Progress lines and streamed output while the command runs (command-output.ts). */
  out: CommandStream;
  /** Aborted when the client goes away or presses Ctrl-C; only commands that run until stopped watch it. */
  signal: AbortSignal;
  /** Whether the policy gives the caller this command (canonical name): help lists only those. */
  available: (command: string) => boolean;
  /** The caller's terminal and input; only attached commands (run, attach, exec) read them. */
  input: CommandInput;
}

/** What a command produced when it ended: text for people, data for --json (written after anything it streamed). */
export interface Output {
  text: string;
  json: unknown;
  /** The exit code when it is not 0 for success: a job's own (run, wait, attach, exec). */
  code?: number;
}

export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  /** Longer help shown by `help CMD`, after the usage line. */
  details?: string;
  args: ArgSpec;
  run(ctx: CommandContext, args: ParsedArgs): Promise<Output>;
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);
