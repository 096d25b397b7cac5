import type { Command } from '../command.js';
import { imagesTable } from '../render.js';

export const images: Command = {
  name: 'images',
  summary: 'list base images and your own',
  details: 'SIZE is in binary units, as sizes are written in the configuration: 118m is 118 MiB, 1.2g is 1.2 GiB (--json gives bytes).',
  args: { positional: [], flags: {} },
  async run(ctx) {
    const list = await ctx.images.list(ctx.user.name);
    return { text: imagesTable(list), json: list };
  },
};
