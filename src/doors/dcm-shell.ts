#!/usr/bin/env node
/**
 * `dcm-shell`: the restricted shell behind the host's OpenSSH. With a pty and
 * no command it is the interactive shell; otherwise it runs the one command
 * in SSH_ORIGINAL_COMMAND (or reads plain lines when there is neither).
 *
 * A forced command starts a process per command, so when dcm-server serves
 * the installation the command goes to its local socket and this process
 * loads almost nothing; otherwise (and for the interactive shell) the whole
 * shell runs here (dcm-shell-here.ts). Paths come only from the command line:
 * the wrapper or the service account's command= line fixes them.
 */
import { exitCodeFor, userLine } from '../errors.js';
import { forwardCommand } from '../local/command-client.js';
import { gatherDoorFacts } from '../local/door-facts.js';
import { commandSocketPath, stateDirOf } from '../paths.js';
import { finish, takeGlobalOptions } from './cli-options.js';

async function main(): Promise<void> {
  const opts = takeGlobalOptions(process.argv.slice(2), ['--state-dir', '--config', '--user']);
  const command = process.env.SSH_ORIGINAL_COMMAND;
  if (opts.rest.length === 0 && command !== undefined && command.trim() !== '') {
    const socket = commandSocketPath(stateDirOf({ ...opts, ignoreEnv: true }));
    const r = await forwardCommand(socket, gatherDoorFacts(opts.user), { door: 'shell', command });
    if (r) return finish(r.code, r.stdout, r.stderr);
  }
  const { runShellHere } = await import('./dcm-shell-here.js');
  await runShellHere(opts);
}

main().catch((e) => finish(exitCodeFor(e), '', `dcm-shell: ${userLine(e)}\n`));
