#!/usr/bin/env node
/**
 * `dcm-server [--listen ADDR:PORT] [--state-dir DIR] [--config FILE]`: the
 * embedded SSH door. Opens the app, repairs what a crash left (reconcile),
 * loads or makes the host key, prints its fingerprint and serves until
 * SIGTERM/SIGINT, then stops cleanly.
 */
import { DcmError, exitCodeFor } from '../errors.js';
import { lineFor } from '../store/db-errors.js';
import { openApp } from '../main.js';
import { LEGACY_NOTE, reconcile } from '../manager/reconcile.js';
import type { Deps } from '../manager/deps.js';
import { PolicySource } from '../policy-io/policy-source.js';
import { CommandCore } from '../shell/core.js';
import { loadOrCreateHostKey } from '../ssh/host-key.js';
import { DcmSshServer } from '../ssh/server.js';
import { takeGlobalOptions } from './cli-options.js';
import { parseListen } from '../ssh/listen.js';
import { startCommandSockets } from './command-sockets.js';
import { printable } from '../names.js';

// One event per line, with anything a client chose (names, commands) escaped.
const log = (l: string) => process.stderr.write(`${new Date().toISOString()} ${printable(l)}\n`);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let listenText: string | undefined;
  const i = argv.findIndex((a) => a === '--listen' || a.startsWith('--listen='));
  if (i >= 0) {
    listenText = argv[i]!.includes('=') ? argv[i]!.slice('--listen='.length) : argv[i + 1];
    argv.splice(i, argv[i]!.includes('=') ? 1 : 2);
  }
  const opts = takeGlobalOptions(argv, ['--state-dir', '--config']);
  if (opts.rest.includes('--help') || opts.rest.includes('-h')) {
    process.stdout.write('usage: dcm-server [--listen ADDR:PORT] [--state-dir DIR] [--config FILE]\n');
    return;
  }
  if (opts.rest.length) throw new DcmError('usage', `unexpected argument ${opts.rest[0]} (usage: dcm-server [--listen ADDR:PORT] [--state-dir DIR] [--config FILE])`);
  const app = await openApp(opts);
  // Policy edits take effect without a restart (SIGHUP or a change to the file);
  // an invalid file is refused and the previous configuration stays. The
  // listener, host key and the server's own limits are fixed at start.
  const policy = new PolicySource({
    ...opts,
    onReload: (r, why) => log(r.ok ? `configuration reloaded (${why})` : `configuration not reloaded (${why}): ${r.error}`),
  });
  policy.watch();
  policy.onSighup();
  const deps: Deps = { store: app.store, engine: app.engine, get config() { return policy.current; } };
  const listen = parseListen(listenText ?? app.config.server.listen);
  const core = new CommandCore(deps, log);
  // The server must come up even with the engine down; commands then say so.
  try {
    const r = await reconcile(deps);
    const fixed = r.rowsWithoutContainer.length + r.containersWithoutRow.length + r.staleReservations.length + r.imagesWithoutEngineImage.length + r.imagesWithoutRow.length;
    log(`reconcile: ${fixed ? `repaired ${fixed} item(s)` : 'nothing to repair'}`);
    for (const o of r.legacyLeftAlone) log(`reconcile: ${LEGACY_NOTE}: ${o}`);
  } catch (e) {
    log(`reconcile skipped: ${lineFor(e, true)}`);
  }
  const key = loadOrCreateHostKey(app.config.stateDir);
  const server = new DcmSshServer({ core, hostKeyPem: key.pem, host: listen.host, port: listen.port, log });
  const bound = await server.listen();
  log(`host key ${key.path}${key.created ? ' (new)' : ''}: ED25519 ${key.fingerprint}`);
  // One-shot doors (dcm COMMAND, forced-command dcm-shell) hand their command here.
  const commands = await startCommandSockets({ core, slots: server.slots, stateDir: app.config.stateDir, log });
  // Last: this line says the server is ready.
  log(`dcm-server listening on ${bound.host}:${bound.port} (users: ssh -p ${bound.port} USER@${app.config.host})`);

  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: shutting down`);
    void Promise.all([server.stop(), commands.stop()]).then(() => {
      policy.close();
      app.close();
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
