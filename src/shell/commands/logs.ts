import { DcmError } from '../../errors.js';
import { str, type Command } from '../command.js';

export const logs: Command = {
  name: 'logs',
  summary: "print the end of a container's log (sshd and init output)",
  args: {
    positional: ['CONTAINER'],
    flags: { tail: { type: 'string', short: 'n', value: 'LINES', help: 'how many lines (default 100, at most 10000)' } },
  },
  async run(ctx, a) {
    const t = str(a.flags.tail) ?? '100';
    if (!/^\d{1,5}$/.test(t) || Number(t) > 10000) throw new DcmError('usage', 'logs: --tail takes a number from 0 to 10000');
    const text = await ctx.containers.logs(ctx.user.name, a.positional[0]!, Number(t));
    return { text: text.replace(/\n$/, ''), json: { lines: text.split('\n').filter((l, i, arr) => l || i < arr.length - 1) } };
  },
};
