/** `attach`: back to a running job's output (and its terminal and input, when it has them), until it ends or Ctrl-P Ctrl-Q. */
import { DcmError } from '../../errors.js';
import type { Command } from '../command.js';
import { jobIo } from './job-io.js';

export const attach: Command = {
  name: 'attach',
  summary: "follow a running job's output again (and type into it, when it takes input)",
  details: [
    'Ends with the job (dcm exits with its exit code), or when you detach with Ctrl-P Ctrl-Q (exit 0):',
    'the job goes on either way when you leave. Output shown is what comes from now on (see "logs").',
  ].join('\n'),
  args: { positional: ['CONTAINER'], flags: {} },
  async run(ctx, a) {
    if (a.flags.json) throw new DcmError('usage', "attach: no --json (an attached job's output is its own)");
    const ref = a.positional[0]!;
    const end = await ctx.containers.attach(ctx.user.name, ref, jobIo(ctx));
    if ('detached' in end) {
      ctx.out.progress(`detached from ${ref}; it goes on`);
      return { text: '', json: null };
    }
    return { text: '', json: null, code: end.exitCode };
  },
};
