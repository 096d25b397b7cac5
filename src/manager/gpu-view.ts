/**
 * What `gpus` shows: the configured GPUs, which are free, which are the
 * user's (and in which container), and which the user's policy lets them
 * take. Other users' holdings stay anonymous. Plain data; the field order is
 * the --json document's.
 */
import { effectivePolicy } from '../policy/effective.js';
import type { Deps } from './deps.js';

export interface GpuRow {
  id: string;
  state: 'free' | 'used';
  /** The user's own container holding it; null when free or someone else's. */
  container: number | null;
  byYou: boolean;
  allowed: boolean;
}

export interface GpuView {
  gpus: GpuRow[];
  free: number;
  total: number;
  /** GPUs a container may take without a preset. */
  maxPerContainer: number;
}

export function gpuView(deps: Pick<Deps, 'store' | 'config'>, user: string): GpuView {
  const { store, config } = deps;
  const pol = effectivePolicy(config, user, store.users.groups(user));
  const held = new Map(store.policy.reservations().map((r) => [r.gpu_id, r]));
  const allow = pol.gpus.allow.value;
  const gpus = config.gpus.inventory.map((g): GpuRow => {
    const r = held.get(g.id);
    return {
      id: g.id,
      state: r ? 'used' : 'free',
      container: r && r.owner === user ? r.container_id : null,
      byYou: r ? r.owner === user : false,
      allowed: (allow === null || allow.includes(g.id)) && !pol.gpus.deny.some((d) => d.value === g.id),
    };
  });
  return { gpus, free: gpus.filter((r) => r.state === 'free').length, total: gpus.length, maxPerContainer: pol.gpus.max.value };
}
