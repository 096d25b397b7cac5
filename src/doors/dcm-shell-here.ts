/**
 * dcm-shell run in this process: the interactive shell, plain lines, and the
 * one command in SSH_ORIGINAL_COMMAND when no dcm-server serves the
 * installation (see dcm-shell.ts). The identity rules are in shell-identity.ts.
 */
import { DcmError, exitCodeFor, userLine } from '../errors.js';
import { loadConfig, type Config } from '../config.js';
import { openApp } from '../main.js';
import { CommandCore } from '../shell/core.js';
import { splitWords } from '../shell/words.js';
import { finish, type GlobalOptions } from './cli-options.js';
import { shellIdentity } from './shell-identity.js';
import { gatherDoorFacts } from '../local/door-facts.js';

export async function runShellHere(opts: GlobalOptions): Promise<void> {
  if (opts.rest.length) throw new DcmError('usage', `dcm-shell takes no arguments besides --user, --state-dir and --config (got ${opts.rest[0]})`);
  // Paths come only from the command line, which the wrapper (sudo, with no
  // user arguments) or the service account's command= line fixes; never from
  // the environment, which a user may influence through sshd's AcceptEnv.
  const source = { stateDir: opts.stateDir, configFile: opts.configFile, ignoreEnv: true };
  let config: Config | undefined; // read once, whether or not the identity rules needed it
  const user = shellIdentity({ ...gatherDoorFacts(opts.user), serviceAccount: () => (config ??= loadConfig(source)).openssh.service_account });
  const app = await openApp({ ...source, config });
  const core = new CommandCore(app, (l) => process.env.DCM_DEBUG && process.stderr.write(`debug: ${l}\n`));
  const command = process.env.SSH_ORIGINAL_COMMAND;
  if (command !== undefined && command.trim() !== '') {
    let words: string[];
    try {
      words = splitWords(command);
    } catch (e) {
      app.close();
      return finish(exitCodeFor(e), '', `dcm: ${userLine(e)}\n`);
    }
    const r = await core.run(user, words);
    app.close();
    return finish(r.code, r.stdout, r.stderr);
  }
  // Loaded only here: readline, inquirer and chalk would cost every exec its start-up time.
  const [{ runRepl }, { colourLevel }] = await Promise.all([import('../shell/repl.js'), import('../shell/colour.js')]);
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
  const code = await runRepl({
    core,
    user,
    io: { input: process.stdin, output: process.stdout, terminal },
    colour: colourLevel(process.env.TERM, noColor, terminal),
  });
  if (terminal) process.stdout.write('logout\n');
  app.close();
  finish(code);
}

