/**
 * `run`: a batch job. The command runs in a new container made by the create
 * saga (same policy, hardening, quotas, storage and network), as the user
 * (as root only with --root where the policy lets the user be root), attached
 * to the caller: output as it comes, the caller's terminal and keys when
 * there is one, its exit code as dcm's. -d leaves it running; --rm removes
 * it when it ends.
 */
import { DcmError } from '../../errors.js';
import { clip } from '../../names.js';
import { list, str, type Command } from '../command.js';
import { containerJson } from '../render.js';
import { parseGpus, policyName } from './create.js';
import { jobIo } from './job-io.js';

/** Most words and characters of a job's command (it is kept in the database and shown by `show`). */
const MAX_WORDS = 256;
const MAX_CHARS = 8192;

/** The command's words: argv for the container, refused only when it could not be argv at all. */
export function commandWords(words: string[], what: string): string[] {
  if (words.length > MAX_WORDS) throw new DcmError('usage', `${what}: at most ${MAX_WORDS} words in the command`);
  if (words.reduce((n, w) => n + w.length, 0) > MAX_CHARS)
    throw new DcmError('usage', `${what}: the command is too long (at most ${MAX_CHARS} characters)`);
  const nul = words.find((w) => w.includes('\0'));
  if (nul !== undefined) throw new DcmError('invalid', `${what}: a word of the command holds a NUL character: "${clip(nul)}"`);
  return words;
}

export const run: Command = {
  name: 'run',
  summary: 'run a command in a new container (a batch job), attached or with -d in the background',
  details: [
    'The command runs as you (as root with --root, where you may be root), with your storage at /home/<you>',
    '(and /root), under the same policy and limits as "create"; IMAGE is a base image or one of yours.',
    'Options go before IMAGE; every word after it is the command, passed as it is (no shell), options',
    "included (run debian-base ls -la). Without a command the image's own runs (or /bin/sh).",
    'Attached on a terminal the job gets a terminal too (your keys, Ctrl-C and window size reach it),',
    "and dcm exits with the job's exit code. Ctrl-P Ctrl-Q detaches and leaves it running; leaving",
    'otherwise (closing the connection) stops it. -d starts it in the background and prints its id:',
    'then "attach ID", "logs -f ID", "wait ID" (its exit code). --rm removes the container when it ends.',
  ].join('\n'),
  args: {
    positional: ['IMAGE', 'COMMAND?...'],
    commandAfter: 1,
    flags: {
      rm: { type: 'bool', help: 'remove the container when the job ends' },
      detach: { type: 'bool', short: 'd', help: 'run in the background and print its id' },
      interactive: { type: 'bool', short: 'i', help: 'pass your input to the job (the default on a terminal)' },
      tty: { type: 'bool', short: 't', help: 'give the job a terminal (the default on a terminal)' },
      root: { type: 'bool', help: 'run as root (only where you may be root in your containers)' },
      name: { type: 'string', value: 'NAME', help: 'a name to use instead of the id' },
      preset: { type: 'string', value: 'NAME', help: 'one of your presets (see "whoami")' },
      mount: { type: 'list', value: 'NAME', help: 'add a mount the administrator offers you (repeatable)' },
      gpus: { type: 'string', value: 'N|IDS', help: 'reserve N GPUs, or the GPUs with these ids (0,3)' },
    },
  },
  async run(ctx, a) {
    const detach = a.flags.detach === true;
    const terminal = ctx.input.terminal;
    if (a.flags.json && !detach) throw new DcmError('usage', "run: --json only with -d (an attached job's output is its own)");
    if (a.flags.tty && !detach && !terminal)
      throw new DcmError('usage', 'run: -t needs a terminal, and this connection has none (use ssh -t, or leave out -t)');
    const tty = a.flags.tty === true || (!detach && terminal !== null);
    const stdin = a.flags.interactive === true || (!detach && tty);
    const preset = str(a.flags.preset);
    const gpus = str(a.flags.gpus);
    const [image, ...command] = a.positional;
    const { view, end } = await ctx.containers.run(
      ctx.user,
      {
        image: image!,
        name: str(a.flags.name),
        ...(preset !== undefined ? { preset: policyName(preset, 'preset') } : {}),
        mounts: list(a.flags.mount).map((m) => policyName(m, 'mount')),
        ...(gpus !== undefined ? { gpus: parseGpus(gpus) } : {}),
        job: { command: commandWords(command, 'run'), tty, stdin, attached: !detach, rm: a.flags.rm === true, root: a.flags.root === true },
      },
      jobIo(ctx),
    );
    if (!end) return { text: String(view.id), json: containerJson(view) };
    if ('detached' in end) {
      ctx.out.progress(`detached from ${view.id}; it goes on ("attach ${view.id}", "logs -f ${view.id}", "wait ${view.id}")`);
      return { text: '', json: null };
    }
    return { text: '', json: null, code: end.exitCode };
  },
};
