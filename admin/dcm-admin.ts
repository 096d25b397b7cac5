#!/usr/bin/env node
/**
 * dcm-admin: base images, users, reconcile and status; subcommands of one or
 * two words, which come first (--state-dir and --config may stand anywhere,
 * and --json before them too):
 * `dcm-admin users key alice --key K`. The subcommand's own options and help
 * are its tool's (admin-commands.ts).
 */
import { exitCodeFor, userLine } from '../src/errors.js';
import { HELP_FLAG, parseArgs, usageLine } from '../src/args/parse.js';
import { helpText } from '../src/args/help.js';
import { PATH_FLAGS, finish, takeGlobalOptions } from '../src/doors/cli-options.js';
import { clip } from '../src/names.js';
import { runTool } from './tools/admin-cli.js';
import { ADMIN_COMMANDS } from './tools/admin-commands.js';
import { VERSION_FLAG, printVersion } from '../src/doors/version-flag.js';

const wordsOf = (t: { name: string }) => t.name.split(' ').slice(1);

function help(): string {
  const lines = ADMIN_COMMANDS.map((t) => `  ${wordsOf(t).join(' ').padEnd(14)} ${t.summary}`);
  const page = helpText({
    usage: [`${usageLine('dcm-admin', { positional: ['COMMAND'], flags: PATH_FLAGS })} [options]`],
    options: { ...PATH_FLAGS, version: VERSION_FLAG },
    width: 26,
  });
  return [page, '', 'commands:', ...lines, '', '"dcm-admin COMMAND --help" explains one.'].join('\n');
}

function main(): void {
  try {
    const g = takeGlobalOptions('dcm-admin', process.argv.slice(2), PATH_FLAGS);
    // `dcm-admin --json status` as scripts write it: a leading --json belongs to the subcommand.
    let lead = 0;
    while (g.rest[lead] === '--json') lead++;
    const words = g.rest.slice(lead);
    const tool = ADMIN_COMMANDS.find((t) => wordsOf(t).every((w, i) => words[i] === w));
    if (tool) {
      const globals = [...(g.stateDir ? ['--state-dir', g.stateDir] : []), ...(g.configFile ? ['--config', g.configFile] : [])];
      return void runTool(tool, [...globals, ...words.slice(wordsOf(tool).length), ...g.rest.slice(0, lead)]);
    }
    if (g.rest.length === 1 && g.rest[0] === '--version') return void printVersion(g);
    const first = g.rest[0];
    if (first !== undefined && !first.startsWith('-')) {
      const named = g.rest
        .filter((w) => !w.startsWith('-'))
        .slice(0, 2)
        .map((w) => clip(w))
        .join(' ');
      return finish(2, '', `dcm-admin: unknown command: ${named}\nrun "dcm-admin --help" for the list\n`);
    }
    // No command: only --help may stand here; the parser refuses anything else.
    parseArgs('dcm-admin', g.rest, { positional: [], flags: {} }, { program: true, extra: { help: HELP_FLAG } });
    finish(0, help() + '\n');
  } catch (e) {
    finish(exitCodeFor(e), '', `dcm-admin: ${userLine(e)}\n`);
  }
}

main();
