import { DcmError } from '../../errors.js';
import type { Command } from '../command.js';
import { containerJson, containersTable, reachText } from '../render.js';
import { gpus } from './gpus.js';

export const show: Command = {
  name: 'show',
  aliases: ['ps'],
  summary: 'list your containers, or show one',
  args: { positional: ['CONTAINER?'], flags: { gpus: { type: 'bool', help: 'list GPUs, used and free (same as "gpus")' } } },
  async run(ctx, a) {
    if (a.flags.gpus) {
      // Another way to the same listing: only for users the policy gives `gpus`.
      if (!ctx.available('gpus')) throw new DcmError('denied', 'show --gpus is not available to you: the policy does not grant gpus');
      return gpus.run(ctx, a);
    }
    const ref = a.positional[0];
    if (ref) {
      const c = await ctx.containers.get(ctx.user.name, ref);
      return { text: reachText(c, ctx.user.name), json: containerJson(c) };
    }
    const all = await ctx.containers.list(ctx.user.name);
    return { text: containersTable(all), json: all.map(containerJson) };
  },
};
