import type { Command } from '../command.js';
import { containerJson } from '../render.js';

export const rm: Command = {
  name: 'rm',
  summary: 'remove a container (your storage is kept)',
  details: 'A running container is removed only with -f. Files in /root and /home/<you> stay.',
  args: {
    positional: ['CONTAINER'],
    flags: { force: { type: 'bool', short: 'f', help: 'stop and remove a running container' } },
  },
  async run(ctx, a) {
    const c = await ctx.containers.remove(ctx.user.name, a.positional[0]!, a.flags.force === true);
    return { text: `removed ${c.id}${c.name ? ` (${c.name})` : ''}`, json: containerJson(c) };
  },
};
