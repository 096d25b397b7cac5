/**
 * dcm-shell run in this process: the interactive shell, plain lines, and the
 * one command in SSH_ORIGINAL_COMMAND when no dcm-server serves the
 * installation (see dcm-shell.ts). The identity rules are in shell-identity.ts.
 *
 * Run as an account other than root (the service account), the shell cannot
 * check the root-only storage that create and start bind, so while dcm-server
 * serves the installation each command the shell runs goes to it through the
 * service socket, exactly as a one-shot command would; the shell itself only
 * reads (prompt, completion, wizards). With no server to take a command, it
 * runs here.
 */
import { exitCodeFor, userLine } from '../errors.js';
import { loadConfig, type Config } from '../config.js';
import { openApp } from '../main.js';
import { splitWords } from '../shell/words.js';
import { finish, type GlobalOptions } from './cli-options.js';
import { shellIdentity } from './shell-identity.js';
import { gatherDoorFacts } from '../local/door-facts.js';
import { viaServer } from '../local/server-door.js';
import type { NoServer } from '../local/socket-choice.js';
import { noteServerAbsence } from '../storage/server-absence.js';
import { stateDirOf } from '../paths.js';
import { joinWords } from '../shell/words.js';
import type { CommandOutput } from '../shell/command-output.js';
import type { CommandInput } from '../shell/command-input.js';
import { processOutput } from './process-output.js';
import { processInput } from './process-input.js';

/** `opts`: dcm-shell's options, already checked (it takes no other words). `why`: why dcm-shell.ts found no server for the one command, when it tried. */
export async function runShellHere(opts: GlobalOptions, why?: NoServer): Promise<void> {
  // Paths come only from the command line, which the wrapper (sudo, with no
  // user arguments) or the service account's command= line fixes; never from
  // the environment, which a user may influence through sshd's AcceptEnv.
  const source = { stateDir: opts.stateDir, configFile: opts.configFile, ignoreEnv: true };
  let config: Config | undefined; // read once, whether or not the identity rules needed it
  const facts = gatherDoorFacts(opts.user);
  const user = shellIdentity({
    ...facts,
    serviceAccount: () => {
      config ??= loadConfig(source);
      return config.openssh.service_account;
    },
  });
  if (why) noteServerAbsence(why);
  const app = await openApp({ ...source, config, log: (l) => process.env.DCM_DEBUG && process.stderr.write(`debug: ${l}\n`) });
  const { core } = app;
  const command = process.env.SSH_ORIGINAL_COMMAND;
  if (command !== undefined && command.trim() !== '') {
    let words: string[];
    try {
      words = splitWords(command);
    } catch (e) {
      app.close();
      return finish(exitCodeFor(e), '', `dcm: ${userLine(e)}\n`);
    }
    const code = await core.stream(user, words, processOutput(), undefined, processInput());
    app.close();
    return finish(code);
  }
  // Loaded only here: readline, inquirer and chalk would cost every exec its start-up time.
  const [{ runRepl }, { colourLevel }] = await Promise.all([import('../shell/repl.js'), import('../shell/colour.js')]);
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
  // Root checks the storage itself; any other account asks dcm-server first.
  const stateDir = stateDirOf(source);
  const viaServerFirst = async (words: string[], output: CommandOutput, signal: AbortSignal, input: CommandInput): Promise<number> => {
    // Sent is answered (never run twice); unsent runs here, its refusals worded by why.
    const r = await viaServer(stateDir, facts, { door: 'shell', command: joinWords(words) }, output, { signal, input });
    if ('code' in r) return r.code;
    noteServerAbsence(r.why);
    return core.stream(user, words, output, signal, input);
  };
  const code = await runRepl({
    core,
    user,
    ...(facts.euid !== 0 ? { run: viaServerFirst } : {}),
    io: { input: process.stdin, output: process.stdout, terminal },
    colour: colourLevel(process.env.TERM, noColor, terminal),
  });
  if (terminal) process.stdout.write('logout\n');
  app.close();
  finish(code);
}
