import { effectivePolicy } from '../../policy/effective.js';
import type { Command } from '../command.js';
import { table } from '../render.js';

/** GPU inventory with used/free, like userdocker's ps --gpu-used / --gpu-free. Other users stay anonymous. */
export const gpus: Command = {
  name: 'gpus',
  summary: 'list the GPUs: free, used by you, used by others',
  args: { positional: [], flags: {} },
  async run(ctx) {
    const { store, config } = ctx.deps;
    const me = ctx.user.name;
    const pol = effectivePolicy(config, me, store.users.groups(me));
    const held = new Map(store.policy.reservations().map((r) => [r.gpu_id, r]));
    const allow = pol.gpus.allow.value;
    const rows = config.gpus.inventory.map((g) => {
      const r = held.get(g.id);
      const mayUse = (allow === null || allow.includes(g.id)) && !pol.gpus.deny.some((d) => d.value === g.id);
      return {
        id: g.id,
        state: r ? 'used' : 'free',
        container: r && r.owner === me ? r.container_id : null,
        byYou: r ? r.owner === me : false,
        allowed: mayUse,
      };
    });
    const free = rows.filter((r) => r.state === 'free').length;
    const text = rows.length
      ? [
          table(
            ['GPU', 'STATE', 'CONTAINER', 'YOU MAY USE'],
            rows.map((r) => [
              r.id,
              r.byYou ? 'used (yours)' : r.state,
              r.container === null ? '-' : String(r.container),
              r.allowed ? 'yes' : 'no',
            ]),
          ),
          '',
          `${free} of ${rows.length} free; you may take up to ${pol.gpus.max.value} per container without a preset`,
        ].join('\n')
      : 'this server has no GPUs configured';
    return { text, json: { gpus: rows, free, total: rows.length, maxPerContainer: pol.gpus.max.value } };
  },
};
