/**
 * Tab completion for the interactive shell: command names first, then, by
 * command, the caller's own container ids/names or images (read from the
 * store only, so completion never waits for the engine), or the command's flags.
 */
import type { Store } from '../store/store.js';
import { shortImageName } from '../manager/resolve.js';
import { COMMON_FLAGS } from '../args/parse.js';
import { COMMANDS, findCommand } from './commands/index.js';

/** Words the REPL itself understands besides the command table. */
const REPL_WORDS = ['exit', 'quit'];

const TAKES_CONTAINER = new Set(['show', 'start', 'stop', 'restart', 'pause', 'unpause', 'rm', 'logs', 'commit', 'attach', 'wait', 'exec']);

export type Completer = (line: string) => [string[], string];

/**
 * `available` says whether the policy gives the user a command (canonical
 * name): one they do not have is never offered, nor its flags or objects.
 */
export function makeCompleter(store: Store, user: string, available: (command: string) => boolean = () => true): Completer {
  return (line) => {
    const words = line.split(/\s+/);
    const last = words[words.length - 1] ?? '';
    const cands = candidates(store, user, words, available);
    const hits = cands.filter((c) => c.startsWith(last));
    return [[...new Set(hits)].sort(), last];
  };
}

function candidates(store: Store, user: string, words: string[], available: (command: string) => boolean): string[] {
  const mine = COMMANDS.filter((c) => available(c.name));
  if (words.length <= 1) return [...mine.flatMap((c) => [c.name, ...(c.aliases ?? [])]), ...REPL_WORDS];
  const cmd = findCommand(words[0]!);
  if (!cmd || !available(cmd.name)) return [];
  const last = words[words.length - 1]!;
  if (last.startsWith('-')) return Object.keys({ ...COMMON_FLAGS, ...cmd.args.flags }).map((f) => `--${f}`);
  // Only the first positional is completed: it is the object the command acts on.
  const positionalsBefore = words.slice(1, -1).filter((w) => !w.startsWith('-')).length;
  if (positionalsBefore > 0) return [];
  if (cmd.name === 'help') return mine.map((c) => c.name);
  if (TAKES_CONTAINER.has(cmd.name)) {
    return store.containers.byOwner(user).flatMap((c) => [String(c.id), ...(c.name ? [c.name] : [])]);
  }
  if (cmd.name === 'create' || cmd.name === 'run')
    return store.images.visibleTo(user).map((i) => (i.owner ? shortImageName(user, i.ref) : i.ref));
  if (cmd.name === 'rmi') return store.images.ownedBy(user).map((i) => shortImageName(user, i.ref));
  return [];
}
