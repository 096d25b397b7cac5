/**
 * The interactive shell: prompt with the user's name, readline line editing
 * and history, tab completion, wizards for `create` without an image and
 * confirmation before `rm`/`rmi`; `exit`, `quit` or Ctrl-D leave. Every line
 * still ends in CommandCore.run, exactly like an exec request.
 *
 * The same loop serves dcm-server (streams over an SSH channel with a TTY
 * face) and dcm-shell (the process's own terminal).
 */
import { createInterface, type Interface } from 'node:readline';
import { DcmError } from '../errors.js';
import type { CommandCore } from './core.js';
import { makeCompleter } from './completer.js';
import { makeChalk, type ColourLevel } from './colour.js';
import { optionWords, parseArgs } from '../args/parse.js';
import { findCommand } from './commands/index.js';
import { splitWords } from './words.js';
import { confirmRemoval, createWizard, isPromptCancel, type PromptIo } from './wizards.js';
import { list, str } from './command.js';
import { printable } from '../names.js';
import { InputGuard } from './input-guard.js';
import type { CommandOutput, LineKind } from './command-output.js';
import { writableOutput } from './writable-output.js';
import type { CommandInput, TtySize } from './command-input.js';

/** Where the shell reads and writes. */
export interface ReplIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** A terminal is attached: line editing, prompt, colour, wizards. Without one, plain lines in and out. */
  terminal: boolean;
}

/** Everything the interactive shell needs. */
export interface ReplOptions {
  core: CommandCore;
  user: string;
  io: ReplIo;
  colour: ColourLevel;
  /** Aborted when the session goes away (idle timeout, disconnect, shutdown). */
  signal?: AbortSignal;
  /** Told true while a command runs and false while waiting for input (for idle timers). */
  onBusy?: (busy: boolean) => void;
  /**
   * Runs one command line's words for `user`, its output handed to `output`
   * as it comes, and resolves with its exit code. The door decides where: by
   * default core.stream in this process; the service account's dcm-shell
   * hands each command to dcm-server, which alone (as root) may check the
   * storage create and start bind. Wizards and completion still read through
   * `core`. `signal` aborts on Ctrl-C or when the session goes away.
   */
  run?: (words: string[], output: CommandOutput, signal: AbortSignal, input: CommandInput) => Promise<number>;
}

const HISTORY_SIZE = 500;

/** Runs until the user leaves or the input ends; resolves with the exit status. */
export async function runRepl(o: ReplOptions): Promise<number> {
  const { core, user, io } = o;
  const c = makeChalk(o.colour);
  const prompt = io.terminal ? `${c.bold.cyan(user)}${c.dim('@dcm')}> ` : '';
  // Completion offers only the commands the policy gives the user (read afresh at each Tab: the policy may change).
  const completer = makeCompleter(core.deps.store, user, (command) => core.grant(user, command).granted);
  const out = (s: string) => io.output.write(s);
  // All input passes the guard: bounded lines and answers, fed in slices, held while a command runs.
  const guard = new InputGuard(io.input, { terminal: io.terminal, output: io.output });
  /** Cancels the wizard that runs now (over-long answer or the session going away). */
  let promptCancel: AbortController | null = null;

  const lines: (string | null)[] = [];
  let wake: (() => void) | null = null;
  let history: string[] = [];
  let suspended = false;

  const open = (): Interface => {
    const rl = createInterface({
      input: guard.input,
      output: io.output,
      terminal: io.terminal,
      prompt,
      completer: io.terminal ? completer : undefined,
      history,
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
    });
    const push = (l: string | null) => {
      lines.push(l);
      wake?.();
    };
    rl.on('line', (l) => {
      // The guard measures the line before it hands on Enter; this only backs it up.
      if (Buffer.byteLength(l) > guard.lineMax) return refuseLine(l);
      guard.hold(); // nothing more is read until the shell asks for the next line
      push(l);
    });
    rl.on('close', () => {
      if (!suspended) push(null);
    });
    // Ctrl-C abandons the line being typed, as in a login shell.
    rl.on('SIGINT', () => {
      out('^C\n');
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
    });
    return rl;
  };
  let rl = open();
  // The limit holds for the line readline holds, however it got there (typed, recalled, yanked, completed).
  guard.lineLength = () => Buffer.byteLength(rl.line);

  /**
   * A new line editor with the same history: the over-long line is gone, and
   * neither the kill ring nor the undo stack keeps it (wiping it with Ctrl-U
   * would put it in both, for Ctrl-Y to bring back).
   */
  const freshLine = () => {
    history = (rl as unknown as { history: string[] }).history ?? history;
    suspended = true;
    rl.close();
    suspended = false;
    rl = open();
  };

  /** A line over the limit got past the guard: said so like any over-long line, and kept out of history. */
  function refuseLine(l: string): void {
    const h = (rl as unknown as { history?: string[] }).history;
    if (h && h[0] === l) h.shift();
    out(c.red(`dcm: line too long (max ${guard.lineMax} bytes)\n`));
    if (io.terminal) rl.prompt();
  }

  /** Back at the prompt: the next line may come. */
  const askNext = () => {
    guard.lineMode();
    guard.release();
    rl.prompt();
  };

  guard.onOverflow = (limit) => {
    const e = new DcmError('usage', `line too long (max ${limit} bytes)`);
    if (promptCancel) return promptCancel.abort(e);
    if (io.terminal) {
      // Forget what readline holds of the line; the guard drops the rest of it.
      freshLine();
      out('\n');
    }
    out(c.red(`dcm: ${e.userMessage}\n`));
    if (io.terminal) rl.prompt();
  };

  /** Hands the terminal to inquirer prompts, then takes it back with history intact. */
  const withPrompt = async <T>(fn: (pio: PromptIo) => Promise<T>): Promise<T> => {
    history = (rl as unknown as { history: string[] }).history ?? history;
    suspended = true;
    rl.close();
    suspended = false;
    const cancel = new AbortController();
    const onAbort = () => cancel.abort(o.signal?.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) onAbort();
    promptCancel = cancel;
    guard.release();
    try {
      return await fn({ input: guard.input, output: io.output, signal: cancel.signal, beforePrompt: () => guard.answerMode(), chalk: c });
    } catch (e) {
      // An over-long answer cancels the wizard with its own line.
      if (cancel.signal.reason instanceof DcmError) throw cancel.signal.reason;
      throw e;
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      promptCancel = null;
      guard.hold();
      guard.lineMode();
      if (!o.signal?.aborted) rl = open();
    }
  };

  const nextLine = async (): Promise<string | null> => {
    while (lines.length === 0) await new Promise<void>((r) => (wake = r));
    wake = null;
    return lines.shift()!;
  };

  const runCommand =
    o.run ??
    ((words: string[], output: CommandOutput, signal: AbortSignal, input: CommandInput) => core.stream(user, words, output, signal, input));
  /** The shell's terminal and input, for a command that attaches (run, attach, exec): the guard hands it every key meanwhile. */
  const termOut = io.output as NodeJS.WritableStream & { columns?: number; rows?: number; on(e: 'resize', l: () => void): unknown };
  const sizeNow = (): TtySize => ({ cols: termOut.columns || 80, rows: termOut.rows || 24 });
  const commandInput: CommandInput = {
    terminal: io.terminal ? sizeNow() : null,
    open: (_raw, onData, onEnd) => guard.divert(onData, onEnd),
    onResize(listener) {
      const tell = () => listener(sizeNow());
      termOut.on('resize', tell);
      return () => void (termOut as NodeJS.EventEmitter).off('resize', tell);
    },
  };
  /** Runs one command, its output shown as it comes; Ctrl-C (or the session ending) stops one that runs until stopped. */
  const runWords = async (words: string[]) => {
    const stop = new AbortController();
    const end = () => stop.abort();
    o.signal?.addEventListener('abort', end, { once: true });
    if (o.signal?.aborted) end();
    guard.onInterrupt = () => {
      if (stop.signal.aborted) return;
      out('^C\n');
      end();
    };
    try {
      const style = (text: string, kind: LineKind) => (kind === 'error' ? c.red(text) : c.dim(text));
      // Ctrl-C stops a command that runs until stopped; what any other command still prints is shown.
      const input = { ...commandInput, terminal: io.terminal ? sizeNow() : null };
      await runCommand(words, writableOutput(io.output, io.output, { ...(o.signal ? { gone: o.signal } : {}), style }), stop.signal, input);
    } finally {
      guard.onInterrupt = null;
      o.signal?.removeEventListener('abort', end);
    }
  };

  if (io.terminal)
    out(`${c.bold('dcm')} — your containers. Type ${c.bold('help')} for commands, Tab to complete, ${c.bold('exit')} to leave.\n`);
  askNext();
  for (;;) {
    const line = await nextLine();
    if (line === null || o.signal?.aborted) break;
    let words: string[];
    try {
      words = splitWords(line);
    } catch (e) {
      out(c.red(`dcm: ${(e as DcmError).userMessage}\n`));
      askNext();
      continue;
    }
    if (words[0] === 'exit' || words[0] === 'quit') break;
    if (words.length) {
      o.onBusy?.(true);
      try {
        await interactiveCommand(words);
      } catch (e) {
        if (isPromptCancel(e)) out(c.yellow('cancelled\n'));
        else out(c.red(`dcm: ${e instanceof DcmError ? e.userMessage : 'internal error'}\n`));
      } finally {
        o.onBusy?.(false);
      }
    }
    if (o.signal?.aborted) break;
    askNext();
  }
  suspended = true;
  rl.close();
  guard.close();
  return 0;

  /** Commands that become wizards or ask first in a terminal; everything else goes straight to the core. */
  async function interactiveCommand(words: string[]): Promise<void> {
    const cmd = findCommand(words[0]!);
    if (!io.terminal || !cmd || optionWords(words).some((w) => w === '--json' || w === '--help' || w === '-h')) return runWords(words);
    // A command the user does not have opens no wizard and asks nothing: the core says it is not available.
    if (!core.grant(user, cmd.name).granted) return runWords(words);
    if (cmd.name === 'create') {
      let a: ReturnType<typeof parseArgs>;
      try {
        a = parseArgs(cmd.name, words.slice(1), cmd.args);
      } catch {
        return runWords(words); // let the core word the usage error
      }
      if (a.positional.length > 0) return runWords(words);
      const built = await withPrompt((promptIo) =>
        createWizard(core, user, promptIo, { name: str(a.flags.name), ports: list(a.flags.port), preset: str(a.flags.preset) }),
      );
      // Flags the wizard does not ask about are kept as typed.
      built.push(
        ...list(a.flags.mount).flatMap((m) => ['--mount', m]),
        ...(str(a.flags.gpus) ? ['--gpus', str(a.flags.gpus)!] : []),
        ...(a.flags['no-default-mounts'] ? ['--no-default-mounts'] : []),
        ...(a.flags['dry-run'] ? ['--dry-run'] : []),
      );
      out(c.dim(`running: ${printable(built.join(' '))}\n`));
      return runWords(built);
    }
    if ((cmd.name === 'rm' || cmd.name === 'rmi') && words.length > 1) {
      const targets = words.slice(1).filter((w) => !w.startsWith('-'));
      if (targets.length === 0) return runWords(words);
      const named = printable(targets.join(', '));
      const what =
        cmd.name === 'rm' ? `container${targets.length > 1 ? 's' : ''} ${named} (your storage is kept)` : `image ${printable(targets[0]!)}`;
      const yes = await withPrompt((promptIo) => confirmRemoval(what, promptIo));
      if (!yes) {
        out('kept\n');
        return;
      }
    }
    return runWords(words);
  }
}
