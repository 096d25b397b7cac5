#!/usr/bin/env node
/**
 * `dcm-shell`: the restricted shell behind the host's OpenSSH. With a pty and
 * no command it is the interactive shell; otherwise it runs the one command
 * in SSH_ORIGINAL_COMMAND (or reads plain lines when there is neither).
 *
 * A forced command starts a process per command, so when dcm-server serves
 * the installation the command goes to one of its command sockets (root's
 * under sudo, the service account's own otherwise) and this process
 * loads almost nothing; otherwise (and for the interactive shell) the whole
 * shell runs here (dcm-shell-here.ts), told why no server took the command.
 * Paths come only from the command line: the wrapper or the service
 * account's command= line fixes them.
 */
import { exitCodeFor, userLine } from '../errors.js';
import { gatherDoorFacts } from '../local/door-facts.js';
import { viaServer } from '../local/server-door.js';
import type { NoServer } from '../local/socket-choice.js';
import { stateDirOf } from '../paths.js';
import { HELP_FLAG, parseArgs } from '../args/parse.js';
import { programHelp } from '../args/help.js';
import { DCM_SHELL_SPEC as SPEC, finish, globalsOf } from './cli-options.js';
import { processOutput } from './process-output.js';
import { VERSION_FLAG, printVersion } from './version-flag.js';
import { processInput } from './process-input.js';

const help = () =>
  programHelp(
    'dcm-shell',
    SPEC,
    "The dcm shell as OpenSSH's forced command: runs SSH_ORIGINAL_COMMAND, or the interactive shell on a terminal.",
    { version: VERSION_FLAG },
  );

async function main(): Promise<void> {
  const args = parseArgs('dcm-shell', process.argv.slice(2), SPEC, { program: true, extra: { help: HELP_FLAG, version: VERSION_FLAG } });
  if (args.flags.help) return finish(0, help() + '\n');
  const opts = globalsOf(args.flags);
  if (args.flags.version) return printVersion({ ...opts, ignoreEnv: true });
  const command = process.env.SSH_ORIGINAL_COMMAND;
  let why: NoServer | undefined;
  if (command !== undefined && command.trim() !== '') {
    // Through sudo: the root socket; as the service account: its own socket.
    const r = await viaServer(
      stateDirOf({ ...opts, ignoreEnv: true }),
      gatherDoorFacts(opts.user),
      { door: 'shell', command },
      processOutput(),
      { input: processInput() },
    );
    if ('code' in r) return finish(r.code);
    why = r.why;
  }
  const { runShellHere } = await import('./dcm-shell-here.js');
  await runShellHere(opts, why);
}

main().catch((e) => finish(exitCodeFor(e), '', `dcm-shell: ${userLine(e)}\n`));
