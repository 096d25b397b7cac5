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
import { DEFAULT_STATE_DIR, commandSocketPath } from '../paths.js';
import { finish, takeGlobalOptions } from './cli-options.js';
import { localSource } from './identity.js';

const isHelp = (words: string[]) => ['help', '--help', '-h'].includes(words[0] ?? '');

async function main(): Promise<void> {
  try {
    const opts = takeGlobalOptions(process.argv.slice(2), ['--state-dir', '--config', '--user']);
    if (opts.rest.length > 0 && !isHelp(opts.rest)) {
      const euid = process.geteuid?.() ?? 0;
      const sudoUser = process.env.SUDO_USER || undefined;
      // Under sudo this refuses --state-dir/--config and ignores the environment.
      const source = localSource({ euid, ...(sudoUser ? { sudoUser } : {}) }, opts);
      const stateDir = source.stateDir ?? (source.ignoreEnv ? undefined : process.env.DCM_STATE_DIR) ?? DEFAULT_STATE_DIR;
      const facts = { euid, ruid: process.getuid?.() ?? -1, account: '', ...(sudoUser ? { sudoUser } : {}), ...(opts.user !== undefined ? { userFlag: opts.user } : {}) };
      const r = await forwardCommand(commandSocketPath(stateDir), facts, { door: 'local', words: opts.rest });
      if (r) return finish(r.code, r.stdout, r.stderr);
    }
    const { runDcmHere } = await import('./dcm-here.js');
    await runDcmHere(opts);
  } catch (e) {
    finish(exitCodeFor(e), '', `dcm: ${userLine(e)}\n`);
  }
}

void main();
