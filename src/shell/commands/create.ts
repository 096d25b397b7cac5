import { checkPort } from '../../names.js';
import { list, str, type Command } from '../command.js';
import { containerJson, reachText } from '../render.js';

export const create: Command = {
  name: 'create',
  summary: 'create a container and print how to ssh into it',
  details: 'IMAGE is a base image (see "images") or one of your own; without it the default image is used.\nThe SSH port printed is the container\'s id. Your storage is mounted at /root and /home/<you>.',
  args: {
    positional: ['IMAGE?'],
    flags: {
      name: { type: 'string', value: 'NAME', help: 'a name to use instead of the id' },
      port: { type: 'list', short: 'p', value: 'PORT', help: 'publish this container port on the same host port (repeatable)' },
    },
  },
  async run(ctx, a) {
    const c = await ctx.containers.create(ctx.user, {
      image: a.positional[0],
      name: str(a.flags.name),
      ports: list(a.flags.port).map((p) => checkPort(p)),
    });
    return { text: reachText(c, ctx.user.name), json: containerJson(c) };
  },
};
