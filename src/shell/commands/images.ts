import type { Command } from '../command.js';
import { imagesTable } from '../render.js';

export const images: Command = {
  name: 'images',
  summary: 'list base images and your own',
  args: { positional: [], flags: {} },
  async run(ctx) {
    const list = await ctx.images.list(ctx.user.name);
    return { text: imagesTable(list), json: list };
  },
};
