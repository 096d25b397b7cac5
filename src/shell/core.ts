/**
 * CommandCore: the one place every door ends in. Words in; text (or one JSON
 * document) and stderr lines out as they come, the exit code last; the caller
 * has already established who the user is.
 */
import { DcmError, exitCodeFor, userLine } from '../errors.js';
import type { ContainerManager } from '../manager/container-manager.js';
import type { ImageManager } from '../manager/image-manager.js';
import { assertRowNotBlocked, type UserManager } from '../manager/user-manager.js';
import type { Deps } from '../manager/deps.js';
import type { Managers } from '../manager/managers.js';
import { optionWords, parseArgs } from '../args/parse.js';
import type { CommandContext } from './command.js';
import type { CommandOutput, CommandStream } from './command-output.js';
import { commandHelp, findCommand, helpPage } from './commands/index.js';
import { commandGrant, effectivePolicy, type CommandGrant } from '../policy/effective.js';
import { NO_INPUT, type CommandInput } from './command-input.js';
import { clip, printable } from '../names.js';
import { StorageFailure, explainStorageFailure } from '../store/db-errors.js';
import { CommandRate } from './command-rate.js';

/** A command's whole output, for callers that need it at once (CommandCore.run). */
export interface CoreResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandCore {
  readonly containers: ContainerManager;
  readonly images: ImageManager;
  readonly users: UserManager;
  /** Every door's commands arrive here, so here is where one user's flood is held back. */
  private readonly rate: CommandRate;

  /** Built in src/main.ts, with the managers it made over the same deps. */
  constructor(
    readonly deps: Deps,
    managers: Managers,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.containers = managers.containers;
    this.images = managers.images;
    this.users = managers.users;
    this.rate = new CommandRate(() => ({
      perMinute: deps.config.server.commands_per_minute,
      burst: deps.config.server.command_burst,
    }));
  }

  /**
   * Runs one command for an authenticated user, its output handed to `output`
   * as it comes (command-output.ts); resolves with the exit code once all of
   * it was handed over. Never throws. `signal` aborts when the client goes
   * away (or presses Ctrl-C): a command that runs until stopped (`logs -f`)
   * ends there; others run to their end, as before.
   */
  async stream(
    userName: string,
    words: string[],
    output: CommandOutput,
    signal: AbortSignal = new AbortController().signal,
    input: CommandInput = NO_INPUT,
  ): Promise<number> {
    const [name, ...rest] = words;
    // Decided before parsing so that even a usage error answers in JSON; after
    // "--" every word is an argument, never an option.
    const wantJson = optionWords(rest).includes('--json');
    try {
      const user = this.deps.store.users.get(userName);
      if (!user) throw new DcmError('denied', `${userName} is not a dcm user; ask the administrator to run dcm-useradd`);
      assertRowNotBlocked(user);
      if (!name) return await this.stream(userName, ['help'], output, signal, input);
      const wait = this.rate.take(user.name);
      if (wait > 0)
        throw new DcmError(
          'limit',
          `too many commands: at most ${this.deps.config.server.commands_per_minute} a minute; try again in ${wait} s`,
        );
      const cmd = findCommand(name);
      if (!cmd) throw new DcmError('usage', `unknown command: ${clip(name)} (type "help" for the list)`);
      // Before its arguments are read: a command the user does not have is not there, --help included.
      const grant = this.grant(user.name, cmd.name);
      if (!grant.granted) throw new DcmError('denied', `command ${clip(name)} is not available to you — policy: ${grant.rule}`);
      const args = parseArgs(cmd.name, rest, cmd.args);
      if (args.flags.help) {
        await output.write(commandHelp(cmd) + '\n');
        return 0;
      }
      const json = args.flags.json === true;
      const out: CommandStream = {
        write: (text) => {
          if (json) throw new Error(`${cmd.name} streamed text in --json mode`);
          return output.write(text);
        },
        progress: (line) => {
          if (!json) output.line(printable(line), 'progress');
        },
        raw: (data, to) => {
          if (json) throw new Error(`${cmd.name} streamed output in --json mode`);
          return output.raw(data, to);
        },
      };
      const ctx: CommandContext = {
        user,
        containers: this.containers,
        images: this.images,
        users: this.users,
        out,
        signal,
        available: (command) => this.grant(user.name, command).granted,
        input,
      };
      const result = await cmd.run(ctx, args);
      const body = json ? JSON.stringify(result.json, null, 2) : result.text;
      if (body) await output.write(body + '\n');
      return result.code ?? 0;
    } catch (caught) {
      const e = explainStorageFailure(caught, this.deps.store.path) ?? caught;
      if (!(e instanceof DcmError) || e.adminDetail)
        this.log(
          printable(`${userName}: ${words.join(' ')}: ${e instanceof DcmError ? `${e.message} [${e.adminDetail}]` : (e as Error).stack}`),
        );
      const line = userLine(e);
      if (wantJson) await output.write(JSON.stringify({ error: line }) + '\n');
      // An administrator is told where a storage failure is; a user only what it means.
      output.line(`dcm: ${printable(output.admin && e instanceof StorageFailure ? e.detail : line)}`, 'error');
      return exitCodeFor(e);
    }
  }

  /** Whether the policy gives `user` the command (canonical name), read from the configuration in use now. */
  grant(user: string, command: string): CommandGrant {
    const { config, store } = this.deps;
    return commandGrant(effectivePolicy(config, user, store.users.groups(user)), command);
  }

  /** `help [COMMAND]` as this user would see it: only the commands they have. */
  helpFor(user: string, topic?: string): string {
    return helpPage((c) => this.grant(user, c).granted, topic);
  }

  /** stream() with the whole output kept and returned at the end, as a user (tests and benchmarks). */
  async run(userName: string, words: string[]): Promise<CoreResult> {
    let stdout = '';
    let stderr = '';
    const code = await this.stream(userName, words, {
      write: async (text) => {
        stdout += text;
      },
      raw: async (data, to) => {
        if (to === 'stdout') stdout += data.toString();
        else stderr += data.toString();
      },
      line: (text) => {
        stderr += `${text}\n`;
      },
    });
    return { code, stdout, stderr };
  }
}
