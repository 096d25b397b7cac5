import type { Command } from '../command.js';
import { containerJson } from '../render.js';
import { eachContainer } from './several.js';

export const rm: Command = {
  name: 'rm',
  summary: 'remove containers (your storage is kept)',
  details: [
    'A running container is removed only with -f. Files in /root and /home/<you> stay.',
    'Several containers may be named: if any is not yours (or does not exist), nothing is removed.',
  ].join('\n'),
  args: {
    positional: ['CONTAINER...'],
    flags: { force: { type: 'bool', short: 'f', help: 'stop and remove a running container' } },
  },
  async run(ctx, a) {
    return eachContainer(
      ctx,
      a,
      (ref) => ctx.containers.remove(ctx.user.name, ref, a.flags.force === true),
      (c) => `removed ${c.id}${c.name ? ` (${c.name})` : ''}`,
      containerJson,
    );
  },
};
