#!/usr/bin/env node
/** dcm-admin: base images, users, reconcile and status; subcommands of one or two words. */
import { finish, takeGlobalOptions } from '../src/doors/cli-options.js';
import { runTool } from './tools/admin-cli.js';
import { ADMIN_COMMANDS } from './tools/admin-commands.js';

const g = takeGlobalOptions(process.argv.slice(2), ['--state-dir', '--config']);
const argv = g.rest;
const globals = [...(g.stateDir ? ['--state-dir', g.stateDir] : []), ...(g.configFile ? ['--config', g.configFile] : [])];
const words = argv.filter((w) => !w.startsWith('-'));
const tool = ADMIN_COMMANDS.find((t) => {
  const sub = t.name.split(' ').slice(1);
  return sub.every((w, i) => words[i] === w);
});

if (!tool) {
  const lines = ADMIN_COMMANDS.map((t) => `  ${t.name.slice('dcm-admin '.length).padEnd(14)} ${t.summary}`);
  const unknown = words.length ? `dcm-admin: unknown command: ${words.slice(0, 2).join(' ')}\n` : '';
  finish(words.length ? 2 : 0, unknown ? '' : ['usage: dcm-admin COMMAND [options]', '', 'commands:', ...lines, '', '"dcm-admin COMMAND --help" explains one.'].join('\n') + '\n', unknown && unknown + 'run "dcm-admin --help" for the list\n');
} else {
  const depth = tool.name.split(' ').length - 1;
  // Drop the subcommand words (the first `depth` non-option words) and hand the rest to the tool.
  let dropped = 0;
  void runTool(tool, [...globals, ...argv.filter((w) => !(dropped < depth && !w.startsWith('-') && ++dropped > 0))]);
}
