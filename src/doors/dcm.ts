#!/usr/bin/env node
/**
 * `dcm`: the local door. `sudo dcm show` on the host itself, or as root
 * `dcm --user NAME show`. One command, text or --json, exit code 0 on success;
 * with no command on a terminal, the interactive shell.
 *
 * When dcm-server serves the installation, a command goes to its local socket
 * and this process loads almost nothing; otherwise (and for help and the
 * interactive shell) everything runs here (dcm-here.ts).
 */
import { exitCodeFor, userLine } from '../errors.js';
import { forwardCommand } from '../local/command-client.js';
import { gatherDoorFacts } from '../local/door-facts.js';
import { commandSocketPath, stateDirOf } from '../paths.js';
import { isHelpRequest } from '../shell/help-request.js';
import { finish, takeGlobalOptions } from './cli-options.js';
import { localSource } from './identity.js';

async function main(): Promise<void> {
  try {
    const opts = takeGlobalOptions(process.argv.slice(2), ['--state-dir', '--config', '--user']);
    if (opts.rest.length > 0 && !isHelpRequest(opts.rest)) {
      const facts = gatherDoorFacts(opts.user);
      // Under sudo this refuses --state-dir/--config and ignores the environment.
      const source = localSource(facts, opts);
      const r = await forwardCommand(commandSocketPath(stateDirOf(source)), facts, { door: 'local', words: opts.rest });
      if (r) return finish(r.code, r.stdout, r.stderr);
    }
    const { runDcmHere } = await import('./dcm-here.js');
    await runDcmHere(opts);
  } catch (e) {
    finish(exitCodeFor(e), '', `dcm: ${userLine(e)}\n`);
  }
}

void main();
