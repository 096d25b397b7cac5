import type { Command } from '../command.js';
import { table } from '../render.js';

/** GPU inventory with used/free, like userdocker's ps --gpu-used / --gpu-free. Other users stay anonymous. */
export const gpus: Command = {
  name: 'gpus',
  summary: 'list the GPUs: free, used by you, used by others',
  args: { positional: [], flags: {} },
  async run(ctx) {
    const v = ctx.users.gpus(ctx.user.name);
    const text = v.total
      ? [
          table(
            ['GPU', 'STATE', 'CONTAINER', 'YOU MAY USE'],
            v.gpus.map((r) => [
              r.id,
              r.byYou ? 'used (yours)' : r.state,
              r.container === null ? '-' : String(r.container),
              r.allowed ? 'yes' : 'no',
            ]),
          ),
          '',
          `${v.free} of ${v.total} free; you may take up to ${v.maxPerContainer} per container without a preset`,
        ].join('\n')
      : 'this server has no GPUs configured';
    return { text, json: v };
  },
};
