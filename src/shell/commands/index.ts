/** The command table: every user command, looked up by name or alias. */
import type { Command } from '../command.js';
import { COMMON_FLAGS, optionWords, usageLine } from '../../args/parse.js';
import { helpText } from '../../args/help.js';
import { isHelpRequest } from '../help-request.js';
import { clip } from '../../names.js';
import { commit } from './commit.js';
import { create } from './create.js';
import { gpus } from './gpus.js';
import { images } from './images.js';
import { pause, restart, start, stop, unpause } from './lifecycle.js';
import { logs } from './logs.js';
import { rm } from './rm.js';
import { rmi } from './rmi.js';
import { show } from './show.js';
import { version } from './version.js';
import { whoami } from './whoami.js';
import { run } from './run.js';
import { attach } from './attach.js';
import { wait } from './wait.js';
import { exec } from './exec.js';

const help: Command = {
  name: 'help',
  summary: 'list commands, or explain one',
  args: { positional: ['COMMAND?'], flags: {} },
  async run(ctx, a) {
    const name = a.positional[0];
    if (name) {
      const c = findCommand(name);
      if (!c) return { text: `no such command: ${clip(name)}`, json: null };
      if (!ctx.available(c.name)) return { text: notAvailable(name), json: null };
      return { text: commandHelp(c), json: { name: c.name, usage: usageLine(c.name, c.args), summary: c.summary } };
    }
    return {
      text: overview(ctx.available),
      json: COMMANDS.filter((c) => ctx.available(c.name)).map((c) => ({
        name: c.name,
        aliases: c.aliases ?? [],
        summary: c.summary,
        usage: usageLine(c.name, c.args),
      })),
    };
  },
};

const notAvailable = (name: string) => `command ${clip(name)} is not available to you`;

/** Every command, for help typed before anyone is known. */
const everything = () => true;

/** `help [TOPIC]` for a user who has the commands `available` says (the overview lists only those). */
export function helpPage(available: (command: string) => boolean, topic?: string): string {
  if (topic === undefined) return overview(available);
  const c = findCommand(topic);
  if (!c) return `no such command: ${clip(topic)}`;
  return available(c.name) ? commandHelp(c) : notAvailable(topic);
}

export const COMMANDS: Command[] = [
  create,
  run,
  show,
  start,
  stop,
  restart,
  pause,
  unpause,
  rm,
  logs,
  attach,
  wait,
  exec,
  commit,
  images,
  rmi,
  gpus,
  whoami,
  version,
  help,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

export function commandHelp(c: Command): string {
  return helpText({
    usage: [usageLine(c.name, c.args)],
    summary: c.summary + '.',
    details: c.details,
    options: { ...c.args.flags, json: COMMON_FLAGS.json! },
    width: 22,
  });
}

function overview(available: (command: string) => boolean): string {
  const shown = COMMANDS.filter((c) => available(c.name));
  const w = Math.max(...shown.map((c) => c.name.length + (c.aliases?.length ? c.aliases.join(',').length + 3 : 0)));
  const rows = shown.map((c) => `  ${(c.name + (c.aliases?.length ? ` (${c.aliases.join(',')})` : '')).padEnd(w)}  ${c.summary}`);
  return [
    'commands:',
    ...rows,
    '',
    'A container is named by its id (its SSH port) or its --name.',
    'Every command takes --json; "help COMMAND" explains one.',
  ].join('\n');
}

/** Help for `help [COMMAND]` / `--help` typed before anyone is known (no database needed). */
export function staticHelp(words: string[]): string | null {
  const [first, second] = words;
  if (!isHelpRequest(words) || optionWords(words).includes('--json')) return null;
  const c = first === 'help' && second ? findCommand(second) : undefined;
  return c ? commandHelp(c) : overview(everything);
}
