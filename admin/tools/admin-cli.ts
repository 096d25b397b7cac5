/**
 * Shared frame for the admin tools: root check, global options, argument
 * parsing, opening the app, printing text or --json, one-line errors.
 */
import { DcmError, exitCodeFor } from '../../src/errors.js';
import { explainStorageFailure, lineFor } from '../../src/store/db-errors.js';
import { openApp, type App } from '../../src/main.js';
import type { ConfigSource } from '../../src/config.js';
import { parseArgs, usageLine, type ArgSpec, type ParsedArgs } from '../../src/shell/args.js';
import { finish, takeGlobalOptions } from '../../src/doors/cli-options.js';

export interface AdminResult {
  text: string;
  json: unknown;
  /** Exit code (default 0) and lines for stderr, for a tool that reports problems rather than throwing. */
  code?: number;
  stderr?: string;
}

export interface AdminTool {
  name: string;
  summary: string;
  args: ArgSpec;
  /** Extra help lines after the options. */
  details?: string;
  /** Exactly one of run (with the app open) and runAlone (without the configuration in use or the database: policy check). */
  run?(app: App, args: ParsedArgs): Promise<AdminResult>;
  runAlone?(src: ConfigSource, args: ParsedArgs): Promise<AdminResult>;
}

function toolHelp(t: AdminTool): string {
  const flags = Object.entries(t.args.flags).map(([n, f]) => `  ${`${f.short ? `-${f.short}, ` : '    '}--${n}${f.type === 'bool' ? '' : ` ${f.value ?? 'VALUE'}`}`.padEnd(26)} ${f.help}`);
  return [
    `usage: ${usageLine(t.name, t.args)}`,
    '',
    t.summary,
    ...(t.details ? ['', t.details] : []),
    '',
    'options:',
    ...flags,
    `  ${'    --json'.padEnd(26)} print machine-readable JSON`,
    `  ${'    --state-dir DIR'.padEnd(26)} dcm state directory (default /var/lib/dcm, or $DCM_STATE_DIR)`,
    `  ${'    --config FILE'.padEnd(26)} configuration file (default /etc/dcm/config.yaml, or $DCM_CONFIG)`,
  ].join('\n');
}

export async function runTool(t: AdminTool, argv = process.argv.slice(2)): Promise<void> {
  try {
    const opts = takeGlobalOptions(argv, ['--state-dir', '--config']);
    const args = parseArgs(t.name, opts.rest, t.args);
    if (args.flags.help) return finish(0, toolHelp(t) + '\n');
    if ((process.geteuid?.() ?? 0) !== 0) throw new DcmError('denied', `${t.name} must be run as root`);
    const show = (out: AdminResult) => {
      const body = args.flags.json ? JSON.stringify(out.json, null, 2) : out.text;
      finish(out.code ?? 0, body ? body + '\n' : '', args.flags.json ? '' : out.stderr);
    };
    if (t.runAlone) return show(await t.runAlone(opts, args));
    const app = await openApp(opts);
    try {
      // A full disk or read-only database says so, with its path (admin tools are for administrators).
      show(await t.run!(app, args).catch((e: unknown) => Promise.reject(explainStorageFailure(e, app.store.db.name) ?? e)));
    } finally {
      app.close();
    }
  } catch (e) {
    if (process.env.DCM_DEBUG && !(e instanceof DcmError)) process.stderr.write(String((e as Error).stack) + '\n');
    finish(exitCodeFor(e), '', `${t.name}: ${lineFor(e, true)}\n`);
  }
}
