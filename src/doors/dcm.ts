#!/usr/bin/env node
/**
 * `dcm`: the local door. `sudo dcm show` on the host itself, or as root
 * `dcm --user NAME show`. One command, text or --json, exit code 0 on success;
 * with no command on a terminal, the interactive shell.
 *
 * When dcm-server serves the installation, a command goes to its root-only
 * command socket (its output comes back as it is made) and this process
 * loads almost nothing; otherwise (and for help and the
 * interactive shell) everything runs here (dcm-here.ts).
 */
import { exitCodeFor, userLine } from '../errors.js';
import { gatherDoorFacts } from '../local/door-facts.js';
import { viaServer } from '../local/server-door.js';
import { stateDirOf } from '../paths.js';
import { isHelpRequest } from '../shell/help-request.js';
import { DCM_FLAGS, finish, takeGlobalOptions } from './cli-options.js';
import { processOutput } from './process-output.js';
import { processInput } from './process-input.js';
import { localSource } from './identity.js';

async function main(): Promise<void> {
  try {
    const opts = takeGlobalOptions('dcm', process.argv.slice(2), DCM_FLAGS);
    if (opts.rest.length === 1 && opts.rest[0] === '--version') {
      const { printVersion } = await import('./version-flag.js');
      return await printVersion(localSource(gatherDoorFacts(opts.user), opts));
    }
    if (opts.rest.length > 0 && !isHelpRequest(opts.rest)) {
      const facts = gatherDoorFacts(opts.user);
      // Under sudo this refuses --state-dir/--config and ignores the environment.
      const source = localSource(facts, opts);
      // Only root may use this door; anyone else is told so by the in-process rules.
      if (facts.euid === 0) {
        const r = await viaServer(stateDirOf(source), facts, { door: 'local', words: opts.rest }, processOutput(), {
          input: processInput(),
        });
        if ('code' in r) return finish(r.code);
      }
    }
    const { runDcmHere } = await import('./dcm-here.js');
    await runDcmHere(opts);
  } catch (e) {
    finish(exitCodeFor(e), '', `dcm: ${userLine(e)}\n`);
  }
}

void main();
