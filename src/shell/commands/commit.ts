import type { Command } from '../command.js';

export const commit: Command = {
  name: 'commit',
  summary: 'save a container as one of your images',
  details:
    'The image is private to you; create new containers from it with "create NAME:TAG".\nYour storage (/root, /home/<you>) is not part of the image.',
  args: { positional: ['CONTAINER', 'NAME[:TAG]'], flags: {} },
  async run(ctx, a) {
    const img = await ctx.containers.commit(ctx.user.name, a.positional[0]!, a.positional[1]!, (line) => ctx.out.progress(line));
    return { text: `saved ${a.positional[0]} as ${img.name}`, json: img };
  },
};
