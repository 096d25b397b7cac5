/** start, stop, restart, pause, unpause: same shape, one engine action each, on one container or several. */
import type { Action } from '../../manager/container-manager.js';
import type { ContainerView } from '../../manager/views.js';
import type { Command } from '../command.js';
import { containerJson } from '../render.js';
import { eachContainer } from './several.js';

const verbs: Record<Action, [string, string]> = {
  start: ['start stopped containers', 'started'],
  stop: ['stop running containers', 'stopped'],
  restart: ['restart containers', 'restarted'],
  pause: ['freeze all processes of containers', 'paused'],
  unpause: ['resume paused containers', 'unpaused'],
};

function lifecycle(action: Action): Command {
  const [summary, done] = verbs[action];
  return {
    name: action,
    summary,
    details: 'Several containers may be named: if any is not yours (or does not exist), nothing is done to any.',
    args: { positional: ['CONTAINER...'], flags: {} },
    async run(ctx, a) {
      const line = (c: ContainerView) => `${done} ${c.id}${c.name ? ` (${c.name})` : ''}: now ${c.state}`;
      return eachContainer(ctx, a, (ref) => ctx.containers.act(ctx.user.name, ref, action), line, containerJson);
    },
  };
}

export const start = lifecycle('start');
export const stop = lifecycle('stop');
export const restart = lifecycle('restart');
export const pause = lifecycle('pause');
export const unpause = lifecycle('unpause');
