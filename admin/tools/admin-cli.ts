/**
 * Shared frame for the admin tools: root check, global options, argument
 * parsing, opening the app, printing text or --json, one-line errors.
 */
import { DcmError, exitCodeFor } from '../../src/errors.js';
import { explainStorageFailure, lineFor } from '../../src/store/db-errors.js';
import { openApp, type App } from '../../src/main.js';
import type { ConfigSource } from '../../src/config.js';
import { COMMON_FLAGS, optionWords, parseArgs, takeOptions, usageLine, type ArgSpec, type ParsedArgs } from '../../src/args/parse.js';
import { VERSION_FLAG } from '../../src/doors/version-flag.js';
import { helpText } from '../../src/args/help.js';
import { PATH_FLAGS, finish, globalsOf } from '../../src/doors/cli-options.js';

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
  return helpText({
    usage: [usageLine(t.name, t.args)],
    summary: t.summary,
    details: t.details,
    options: { ...t.args.flags, json: COMMON_FLAGS.json!, ...PATH_FLAGS, version: VERSION_FLAG },
    width: 26,
  });
}

export async function runTool(t: AdminTool, argv = process.argv.slice(2)): Promise<void> {
  try {
    // --version answers alone, before the tool's own arguments are required.
    if (optionWords(argv).includes('--version')) {
      const { printVersion } = await import('../../src/doors/version-flag.js');
      return await printVersion(globalsOf(takeOptions(t.name, argv, PATH_FLAGS, { program: true }).flags));
    }
    // The tool's own flags, --json and --help, and --state-dir/--config, in any order.
    const args = parseArgs(t.name, argv, t.args, { program: true, extra: { ...COMMON_FLAGS, ...PATH_FLAGS } });
    const opts = globalsOf(args.flags);
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
      show(await t.run!(app, args).catch((e: unknown) => Promise.reject(explainStorageFailure(e, app.store.path) ?? e)));
    } finally {
      app.close();
    }
  } catch (e) {
    if (process.env.DCM_DEBUG && !(e instanceof DcmError)) process.stderr.write(String((e as Error).stack) + '\n');
    finish(exitCodeFor(e), '', `${t.name}: ${lineFor(e, true)}\n`);
  }
}
