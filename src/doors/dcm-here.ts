/**
 * The local door run in this process: help, the interactive shell, and any
 * command when no dcm-server serves the installation (see dcm.ts).
 */
import { exitCodeFor } from '../errors.js';
import { lineFor } from '../store/db-errors.js';
import { openApp } from '../main.js';
import { helpText } from '../args/help.js';
import { DCM_FLAGS, DCM_SYNOPSIS, finish, type GlobalOptions } from './cli-options.js';
import { processOutput } from './process-output.js';
import { processInput } from './process-input.js';
import { localIdentity, localSource, type IdentityInput } from './identity.js';
import { findCommand, staticHelp } from '../shell/commands/index.js';

const doorHelp = () => helpText({ usage: DCM_SYNOPSIS, options: DCM_FLAGS, width: 26 });

/** `help [COMMAND]` as the calling user sees it; throws when there is no user to ask for. */
async function userHelp(who: IdentityInput, opts: GlobalOptions): Promise<string> {
  const user = localIdentity(who);
  const app = await openApp(localSource(who, opts));
  try {
    const [first, topic] = opts.rest;
    return app.core.helpFor(user, first === 'help' && topic !== undefined && findCommand(topic) ? topic : undefined);
  } finally {
    app.close();
  }
}

export async function runDcmHere(opts: GlobalOptions): Promise<void> {
  // Root acting for a user is the administrator: a storage failure names its path.
  const admin = (process.geteuid?.() ?? 0) === 0 && (!process.env.SUDO_USER || process.env.SUDO_USER === 'root');
  try {
    const who = { euid: process.geteuid?.() ?? 0, sudoUser: process.env.SUDO_USER, userFlag: opts.user };
    // Help works for anyone: for a known user it lists only the commands the policy gives them,
    // otherwise (no identity, no readable configuration) every command.
    const help = staticHelp(opts.rest);
    if (help !== null) return finish(0, `${doorHelp()}\n\n${(await userHelp(who, opts).catch(() => null)) ?? help}\n`);
    const user = localIdentity(who);
    const app = await openApp({ ...localSource(who, opts), log: (l) => process.env.DCM_DEBUG && process.stderr.write(`debug: ${l}\n`) });
    const { core } = app;
    if (opts.rest.length === 0 && process.stdin.isTTY && process.stdout.isTTY) {
      const { runRepl } = await import('../shell/repl.js');
      const { colourLevel } = await import('../shell/colour.js');
      const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
      const code = await runRepl({
        core,
        user,
        io: { input: process.stdin, output: process.stdout, terminal: true },
        colour: colourLevel(process.env.TERM, noColor, true),
      });
      app.close();
      return finish(code);
    }
    const code = await core.stream(user, opts.rest, processOutput(admin), undefined, processInput());
    app.close();
    finish(code);
  } catch (e) {
    finish(exitCodeFor(e), '', `dcm: ${lineFor(e, admin)}\n`);
  }
}
