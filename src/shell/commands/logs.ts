import { DcmError } from '../../errors.js';
import { str, type Command } from '../command.js';

export const logs: Command = {
  name: 'logs',
  summary: "print the end of a container's log (sshd and init output)",
  details: [
    'With -f the log goes on as it grows, until the container stops or you press Ctrl-C',
    '(or the connection closes). -f prints text as it comes, so it does not take --json.',
  ].join('\n'),
  args: {
    positional: ['CONTAINER'],
    flags: {
      tail: { type: 'string', short: 'n', value: 'LINES', help: 'how many lines (default 100, at most 10000)' },
      follow: { type: 'bool', short: 'f', help: 'keep printing new lines until the container stops' },
    },
  },
  async run(ctx, a) {
    const t = str(a.flags.tail) ?? '100';
    if (!/^\d{1,5}$/.test(t) || Number(t) > 10000) throw new DcmError('usage', 'logs: --tail takes a number from 0 to 10000');
    if (a.flags.follow) {
      // --json is one document per command, and a followed log has no end to put it at.
      if (a.flags.json)
        throw new DcmError('usage', 'logs: --follow prints lines as they come and takes no --json (use logs --json without --follow)');
      await ctx.containers.followLogs(ctx.user.name, a.positional[0]!, Number(t), ctx.signal, (text) => ctx.out.write(text));
      return { text: '', json: null };
    }
    const text = await ctx.containers.logs(ctx.user.name, a.positional[0]!, Number(t));
    return { text: text.replace(/\n$/, ''), json: { lines: text.split('\n').filter((l, i, arr) => l || i < arr.length - 1) } };
  },
};
