#!/usr/bin/env node
/**
 * `dcm-server [--listen ADDR:PORT] [--state-dir DIR] [--config FILE]`: the
 * embedded SSH door. Reads its options, opens the server (src/main.ts:
 * openServer), prints where it listens and serves until SIGTERM/SIGINT, then
 * stops cleanly.
 */
import { DcmError, exitCodeFor } from '../errors.js';
import { lineFor } from '../store/db-errors.js';
import { openServer } from '../main.js';
import { HELP_FLAG, parseArgs } from '../args/parse.js';
import { programHelp } from '../args/help.js';
import { DCM_SERVER_SPEC as SPEC, finish, globalsOf } from './cli-options.js';
import { printable } from '../names.js';
import { VERSION_FLAG, printVersion } from './version-flag.js';

const help = () =>
  programHelp(
    'dcm-server',
    SPEC,
    "dcm's own SSH server: users log in with their keys to the dcm shell, and the one-shot doors hand it their commands.",
    { version: VERSION_FLAG },
  );

// One event per line, with anything a client chose (names, commands) escaped.
const log = (l: string) => process.stderr.write(`${new Date().toISOString()} ${printable(l)}\n`);

async function main(): Promise<void> {
  const args = parseArgs('dcm-server', process.argv.slice(2), SPEC, { program: true, extra: { help: HELP_FLAG, version: VERSION_FLAG } });
  if (args.flags.help) return finish(0, help() + '\n');
  const { stateDir, configFile } = globalsOf(args.flags);
  if (args.flags.version) return printVersion({ stateDir, configFile });
  const listen = typeof args.flags.listen === 'string' ? args.flags.listen : undefined;
  const server = await openServer({ stateDir, configFile, listen, log });
  const { host, port } = server.address;
  // Last: this line says the server is ready.
  log(`dcm-server listening on ${host}:${port} (users: ssh -p ${port} USER@${server.app.config.host})`);

  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: shutting down`);
    void server.stop().then(() => {
      log('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`dcm-server: ${lineFor(e, true)}\n`);
  if (!(e instanceof DcmError)) process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(exitCodeFor(e));
});
