/** start, stop, restart, pause, unpause: same shape, one engine action each. */
import type { Action } from '../../manager/container-manager.js';
import type { Command } from '../command.js';
import { containerJson } from '../render.js';

const verbs: Record<Action, [string, string]> = {
  start: ['start a stopped container', 'started'],
  stop: ['stop a running container', 'stopped'],
  restart: ['restart a container', 'restarted'],
  pause: ['freeze all processes of a container', 'paused'],
  unpause: ['resume a paused container', 'unpaused'],
};

function lifecycle(action: Action): Command {
  const [summary, done] = verbs[action];
  return {
    name: action,
    summary,
    args: { positional: ['CONTAINER'], flags: {} },
    async run(ctx, a) {
      const c = await ctx.containers.act(ctx.user.name, a.positional[0]!, action);
      return { text: `${done} ${c.id}${c.name ? ` (${c.name})` : ''}: now ${c.state}`, json: containerJson(c) };
    },
  };
}

export const start = lifecycle('start');
export const stop = lifecycle('stop');
export const restart = lifecycle('restart');
export const pause = lifecycle('pause');
export const unpause = lifecycle('unpause');
