/** `exec`: a command in one of one's own running containers, as argv (no shell), attached; its exit code is dcm's. */
import { DcmError } from '../../errors.js';
import type { Command } from '../command.js';
import { commandWords } from './run.js';
import { jobIo } from './job-io.js';

export const exec: Command = {
  name: 'exec',
  summary: 'run a command in one of your running containers',
  details: [
    'The command runs as you (as root with --root, where you may be root), in your home directory.',
    'Options go before CONTAINER; every word after it is the command, options included (exec 20001 ls -la).',
    '-i passes your input, -t gives it a terminal (needs one: ssh -t); dcm exits with its exit code.',
  ].join('\n'),
  args: {
    positional: ['CONTAINER', 'COMMAND...'],
    commandAfter: 1,
    flags: {
      interactive: { type: 'bool', short: 'i', help: 'pass your input to the command' },
      tty: { type: 'bool', short: 't', help: 'give the command a terminal' },
      root: { type: 'bool', help: 'run as root (only where you may be root in your containers)' },
    },
  },
  async run(ctx, a) {
    if (a.flags.json) throw new DcmError('usage', "exec: no --json (the command's output is its own)");
    if (a.flags.tty && !ctx.input.terminal)
      throw new DcmError('usage', 'exec: -t needs a terminal, and this connection has none (use ssh -t, or leave out -t)');
    const [ref, ...command] = a.positional;
    const code = await ctx.containers.exec(
      ctx.user,
      ref!,
      {
        command: commandWords(command, 'exec'),
        tty: a.flags.tty === true,
        stdin: a.flags.interactive === true,
        root: a.flags.root === true,
      },
      jobIo(ctx),
    );
    return { text: '', json: null, code };
  },
};
