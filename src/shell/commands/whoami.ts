import { effectivePolicy } from '../../policy/effective.js';
import { userDirs } from '../../storage/user-dirs.js';
import type { Command } from '../command.js';
import { humanSize } from '../render.js';

const orNone = (n: number | null, f: (v: number) => string = String) => (n === null ? 'no limit' : f(n));

export const whoami: Command = {
  name: 'whoami',
  summary: 'your account, limits, presets and usage',
  args: { positional: [], flags: {} },
  async run(ctx) {
    const { store, config } = ctx.deps;
    const u = ctx.user;
    const groups = store.users.groups(u.name);
    const pol = effectivePolicy(config, u.name, groups);
    const L = Object.fromEntries(Object.entries(pol.limits).map(([k, v]) => [k, v.value])) as Record<keyof typeof pol.limits, number | null>;
    const mine = await ctx.containers.list(u.name);
    const running = mine.filter((c) => c.state === 'running').length;
    const imgs = store.images.ownedBy(u.name).length;
    const totals = store.policy.totals(u.name);
    const gpusHeld = store.policy.reservations().filter((r) => r.owner === u.name).map((r) => r.gpu_id);
    const keys = store.users.keys(u.name).map((k) => ({ algo: k.algo, fingerprint: k.fingerprint, comment: k.comment }));
    const dirs = userDirs(config.storageDir, u.name);
    const denied = new Set(pol.mounts.deny.map((d) => d.value));
    const presets = pol.presets.map((p) => ({ name: p.value, ...config.presets[p.value] }));
    const mounts = pol.mounts.allow.filter((m) => !denied.has(m.value)).map((m) => ({ name: m.value, target: config.mounts[m.value]!.target, mode: config.mounts[m.value]!.mode }));
    const always = pol.mounts.always.filter((m) => !denied.has(m.value)).map((m) => ({ name: m.value, target: config.mounts[m.value]!.target, mode: config.mounts[m.value]!.mode }));
    const json = {
      user: u.name, uid: u.uid, gid: u.gid, groups, keys,
      limits: {
        memoryBytes: L.memory, cpus: L.cpus, pids: L.pids, maxContainers: L.max_containers,
        maxRunning: L.max_running, totalMemoryBytes: L.total_memory, totalCpus: L.total_cpus,
        maxImages: pol.images.max_own.value, maxExtraPorts: pol.ports.maxExtra.value, maxGpus: pol.gpus.max.value,
      },
      usage: { containers: mine.length, running, images: imgs, memoryBytes: totals.memoryBytes, cpus: totals.cpus, gpus: gpusHeld },
      presets, mounts, alwaysMounts: always,
      runAs: pol.runAs.value,
      storage: { root: dirs.root, home: dirs.home },
    };
    const presetLine = (p: (typeof presets)[number]) =>
      [p.name, p.description ? `— ${p.description}` : '', [
        p.memory !== undefined ? `memory ${humanSize(p.memory)}` : '', p.cpus !== undefined ? `${p.cpus} CPUs` : '',
        p.gpus ? `${p.gpus} GPU${p.gpus === 1 ? '' : 's'}` : '', p.mounts?.length ? `mounts ${p.mounts.join(', ')}` : '',
        p.ports ? `ports ${p.ports.lo}-${p.ports.hi}` : '',
      ].filter(Boolean).join(', ')].filter(Boolean).join(' ');
    const text = [
      `user       ${u.name} (uid ${u.uid}, gid ${u.gid})`,
      `groups     ${groups.join(', ') || '-'}`,
      `keys       ${keys.map((k) => `${k.algo} ${k.fingerprint}`).join('\n           ')}`,
      `containers ${mine.length} of ${L.max_containers} (${running} running${L.max_running === null ? '' : ` of ${L.max_running}`})`,
      `images     ${imgs} of ${pol.images.max_own.value} of your own`,
      `limits     memory ${humanSize(L.memory)}, ${L.cpus} CPUs, ${L.pids} processes per container`,
      `totals     memory ${humanSize(totals.memoryBytes)} of ${orNone(L.total_memory, humanSize)}, ${totals.cpus} of ${orNone(L.total_cpus)} CPUs`,
      `gpus       ${gpusHeld.length ? gpusHeld.join(', ') : 'none held'}; up to ${pol.gpus.max.value} per container`,
      `presets    ${presets.length ? presets.map(presetLine).join('\n           ') : 'none (ask the administrator)'}`,
      `mounts     ${mounts.length ? mounts.map((m) => `${m.name} -> ${m.target} (${m.mode})`).join(', ') : 'none'} on request${always.length ? `; always: ${always.map((m) => `${m.target} (${m.mode})`).join(', ')}` : ''}`,
      `storage    /root and /home/${u.name} in every container`,
    ].join('\n');
    return { text, json };
  },
};
