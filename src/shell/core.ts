/**
 * CommandCore: the one place every door ends in. Words in, exit code and text
 * (or JSON) out; the caller has already established who the user is.
 */
import { DcmError, exitCodeFor, userLine } from '../errors.js';
import type { ContainerManager } from '../manager/container-manager.js';
import type { ImageManager } from '../manager/image-manager.js';
import { assertNotBlocked, type UserManager } from '../manager/user-manager.js';
import type { Deps } from '../manager/deps.js';
import type { Managers } from '../manager/managers.js';
import { optionWords, parseArgs } from '../args/parse.js';
import type { CommandContext } from './command.js';
import { commandHelp, findCommand } from './commands/index.js';
import { clip, printable } from '../names.js';
import { StorageFailure, explainStorageFailure } from '../store/db-errors.js';

export interface CoreResult {
  code: number;
  stdout: string;
  stderr: string;
  /** For a storage failure: the line an administrator is shown instead (db-errors.ts). */
  adminLine?: string;
}

export class CommandCore {
  readonly containers: ContainerManager;
  readonly images: ImageManager;
  readonly users: UserManager;

  /** Built in src/main.ts, with the managers it made over the same deps. */
  constructor(readonly deps: Deps, managers: Managers, private readonly log: (line: string) => void = () => {}) {
    this.containers = managers.containers;
    this.images = managers.images;
    this.users = managers.users;
  }

  /** Runs one command for an authenticated user. Never throws. */
  async run(userName: string, words: string[]): Promise<CoreResult> {
    const [name, ...rest] = words;
    // Decided before parsing so that even a usage error answers in JSON; after
    // "--" every word is an argument, never an option.
    const wantJson = optionWords(rest).includes('--json');
    try {
      const user = this.deps.store.users.get(userName);
      if (!user) throw new DcmError('denied', `${userName} is not a dcm user; ask the administrator to run dcm-useradd`);
      assertNotBlocked(this.deps.store, user.name);
      if (!name) return this.run(userName, ['help']);
      const cmd = findCommand(name);
      if (!cmd) throw new DcmError('usage', `unknown command: ${clip(name)} (type "help" for the list)`);
      const args = parseArgs(cmd.name, rest, cmd.args);
      if (args.flags.help) return { code: 0, stdout: commandHelp(cmd) + '\n', stderr: '' };
      const ctx: CommandContext = { user, deps: this.deps, containers: this.containers, images: this.images, users: this.users };
      const out = await cmd.run(ctx, args);
      const body = args.flags.json ? JSON.stringify(out.json, null, 2) : out.text;
      return { code: 0, stdout: body ? body + '\n' : '', stderr: '' };
    } catch (caught) {
      const e = explainStorageFailure(caught, this.deps.store.path) ?? caught;
      if (!(e instanceof DcmError) || e.adminDetail) this.log(printable(`${userName}: ${words.join(' ')}: ${e instanceof DcmError ? `${e.message} [${e.adminDetail}]` : (e as Error).stack}`));
      const line = userLine(e);
      return { code: exitCodeFor(e), stdout: wantJson ? JSON.stringify({ error: line }) + '\n' : '', stderr: `dcm: ${printable(line)}\n`, ...(e instanceof StorageFailure ? { adminLine: e.detail } : {}) };
    }
  }
}
