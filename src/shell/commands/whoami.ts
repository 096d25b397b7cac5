import { effectiveLimits } from '../../policy/limits.js';
import { userDirs } from '../../storage/user-dirs.js';
import type { Command } from '../command.js';
import { humanSize } from '../render.js';

export const whoami: Command = {
  name: 'whoami',
  summary: 'your account, limits and usage',
  args: { positional: [], flags: {} },
  async run(ctx) {
    const { store, config } = ctx.deps;
    const u = ctx.user;
    const groups = store.users.groups(u.name);
    const { limits } = effectiveLimits(config, u.name, groups);
    const mine = await ctx.containers.list(u.name);
    const running = mine.filter((c) => c.state === 'running').length;
    const imgs = store.images.ownedBy(u.name).length;
    const keys = store.users.keys(u.name).map((k) => ({ algo: k.algo, fingerprint: k.fingerprint, comment: k.comment }));
    const dirs = userDirs(config.storageDir, u.name);
    const json = {
      user: u.name, uid: u.uid, gid: u.gid, groups, keys,
      limits: { memoryBytes: limits.memory, cpus: limits.cpus, pids: limits.pids, maxContainers: limits.max_containers },
      usage: { containers: mine.length, running, images: imgs },
      storage: { root: dirs.root, home: dirs.home },
    };
    const text = [
      `user       ${u.name} (uid ${u.uid}, gid ${u.gid})`,
      `groups     ${groups.join(', ') || '-'}`,
      `keys       ${keys.map((k) => `${k.algo} ${k.fingerprint}`).join('\n           ')}`,
      `containers ${mine.length} of ${limits.max_containers} (${running} running)`,
      `images     ${imgs} of your own`,
      `limits     memory ${humanSize(limits.memory)}, ${limits.cpus} CPUs, ${limits.pids} processes per container`,
      `storage    /root and /home/${u.name} in every container`,
    ].join('\n');
    return { text, json };
  },
};
