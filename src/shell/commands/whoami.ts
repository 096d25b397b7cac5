import type { Command } from '../command.js';
import { humanSize } from '../render.js';
import type { PresetOffer } from '../../manager/account-view.js';

const orNone = (n: number | null, f: (v: number) => string = String) => (n === null ? 'no limit' : f(n));

const presetLine = (p: PresetOffer) =>
  [
    p.name,
    p.description ? `— ${p.description}` : '',
    [
      p.memory !== undefined ? `memory ${humanSize(p.memory)}` : '',
      p.cpus !== undefined ? `${p.cpus} CPUs` : '',
      p.gpus ? `${p.gpus} GPU${p.gpus === 1 ? '' : 's'}` : '',
      p.mounts?.length ? `mounts ${p.mounts.join(', ')}` : '',
      p.ports ? `ports ${p.ports.lo}-${p.ports.hi}` : '',
    ]
      .filter(Boolean)
      .join(', '),
  ]
    .filter(Boolean)
    .join(' ');

export const whoami: Command = {
  name: 'whoami',
  summary: 'your account, limits, presets and usage',
  details: 'Sizes are in binary units, as the administrator writes them: 2g is 2 GiB, 512m is 512 MiB (--json gives bytes).',
  args: { positional: [], flags: {} },
  async run(ctx) {
    const a = await ctx.users.account(ctx.user, ctx.containers);
    const { limits: L, usage: U } = a;
    const text = [
      `user       ${a.user} (uid ${a.uid}, gid ${a.gid})`,
      `groups     ${a.groups.join(', ') || '-'}`,
      `keys       ${a.keys.map((k) => `${k.algo} ${k.fingerprint}`).join('\n           ')}`,
      `containers ${U.containers} of ${L.maxContainers} (${U.running} running${L.maxRunning === null ? '' : ` of ${L.maxRunning}`})`,
      `images     ${U.images} of ${L.maxImages} of your own`,
      `limits     memory ${humanSize(L.memoryBytes)}, ${L.cpus} CPUs, ${L.pids} processes per container`,
      `totals     memory ${humanSize(U.memoryBytes)} of ${orNone(L.totalMemoryBytes, humanSize)}, ${U.cpus} of ${orNone(L.totalCpus)} CPUs`,
      `gpus       ${U.gpus.length ? U.gpus.join(', ') : 'none held'}; up to ${L.maxGpus} per container`,
      `presets    ${a.presets.length ? a.presets.map(presetLine).join('\n           ') : 'none (ask the administrator)'}`,
      `mounts     ${a.mounts.length ? a.mounts.map((m) => `${m.name} -> ${m.target} (${m.mode})`).join(', ') : 'none'} on request${a.alwaysMounts.length ? `; always: ${a.alwaysMounts.map((m) => `${m.target} (${m.mode})`).join(', ')}` : ''}`,
      `storage    /root and /home/${a.user} in every container`,
    ].join('\n');
    return { text, json: a };
  },
};
