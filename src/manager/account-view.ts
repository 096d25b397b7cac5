/**
 * What `whoami` shows: a user's account, effective limits, usage, presets and
 * mounts, gathered from the store and the policy in one place, so the command
 * only renders. Plain data; the field order is the --json document's.
 */
import type { Config } from '../config.js';
import { effectivePolicy } from '../policy/effective.js';
import { userDirs } from '../storage/user-dirs.js';
import type { UserRow } from '../store/users-repo.js';
import type { Deps } from './deps.js';
import type { ContainerView } from './views.js';

export interface MountOffer {
  name: string;
  target: string;
  mode: 'ro' | 'rw';
}

export type PresetOffer = { name: string } & Config['presets'][string];

export interface AccountView {
  user: string;
  uid: number;
  gid: number;
  groups: string[];
  keys: { algo: string; fingerprint: string; comment: string }[];
  /** null: no limit. */
  limits: {
    memoryBytes: number | null;
    cpus: number | null;
    pids: number | null;
    maxContainers: number | null;
    maxRunning: number | null;
    totalMemoryBytes: number | null;
    totalCpus: number | null;
    maxImages: number;
    maxExtraPorts: number;
    maxGpus: number;
  };
  usage: { containers: number; running: number; images: number; memoryBytes: number; cpus: number; gpus: string[] };
  presets: PresetOffer[];
  /** Mounts the user may ask for with `create --mount`. */
  mounts: MountOffer[];
  /** Mounts every container gets. */
  alwaysMounts: MountOffer[];
  /** "host": the user logs in to containers only as themself, never as root. */
  runAs: 'root' | 'host';
  storage: { root: string; home: string };
}

/** `containers`: the user's containers as the engine shows them now (ContainerManager.list). */
export function accountView(deps: Deps, user: UserRow, containers: ContainerView[]): AccountView {
  const { store, config } = deps;
  const groups = store.users.groups(user.name);
  const pol = effectivePolicy(config, user.name, groups);
  const limit = (k: keyof typeof pol.limits) => pol.limits[k].value;
  const denied = new Set(pol.mounts.deny.map((d) => d.value));
  const offer = (names: { value: string }[]): MountOffer[] =>
    names
      .filter((m) => !denied.has(m.value))
      .map((m) => ({ name: m.value, target: config.mounts[m.value]!.target, mode: config.mounts[m.value]!.mode }));
  const totals = store.policy.totals(user.name);
  const dirs = userDirs(config.storageDir, user.name);
  return {
    user: user.name,
    uid: user.uid,
    gid: user.gid,
    groups,
    keys: store.users.keys(user.name).map((k) => ({ algo: k.algo, fingerprint: k.fingerprint, comment: k.comment })),
    limits: {
      memoryBytes: limit('memory'),
      cpus: limit('cpus'),
      pids: limit('pids'),
      maxContainers: limit('max_containers'),
      maxRunning: limit('max_running'),
      totalMemoryBytes: limit('total_memory'),
      totalCpus: limit('total_cpus'),
      maxImages: pol.images.max_own.value,
      maxExtraPorts: pol.ports.maxExtra.value,
      maxGpus: pol.gpus.max.value,
    },
    usage: {
      containers: containers.length,
      running: containers.filter((c) => c.state === 'running').length,
      images: store.images.ownedBy(user.name).length,
      memoryBytes: totals.memoryBytes,
      cpus: totals.cpus,
      gpus: store.policy
        .reservations()
        .filter((r) => r.owner === user.name)
        .map((r) => r.gpu_id),
    },
    presets: pol.presets.map((p) => ({ name: p.value, ...config.presets[p.value] })) as PresetOffer[],
    mounts: offer(pol.mounts.allow),
    alwaysMounts: offer(pol.mounts.always),
    runAs: pol.runAs.value,
    storage: { root: dirs.root, home: dirs.home },
  };
}
