import type { Command } from '../command.js';

export const rmi: Command = {
  name: 'rmi',
  summary: 'remove one of your images',
  args: { positional: ['IMAGE'], flags: {} },
  async run(ctx, a) {
    const img = await ctx.images.removeOwn(ctx.user.name, a.positional[0]!);
    return { text: `removed image ${img.name}`, json: img };
  },
};
