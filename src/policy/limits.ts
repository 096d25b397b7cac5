/**
 * Effective limits for a user: built-in values, then `defaults`, then each of
 * the user's groups (in name order), then `users.<name>`; the most specific
 * layer that sets a value wins. Pure.
 */
import { BUILTIN_LIMITS, type Config } from '../config.js';

export interface Limits {
  memory: number;
  cpus: number;
  pids: number;
  max_containers: number;
}

export type LimitSources = Record<keyof Limits, string>;

export function effectiveLimits(
  cfg: Pick<Config, 'defaults' | 'groups' | 'users'>,
  user: string,
  groups: string[],
): { limits: Limits; from: LimitSources } {
  const limits: Limits = { ...BUILTIN_LIMITS };
  const from: LimitSources = { memory: 'built-in', cpus: 'built-in', pids: 'built-in', max_containers: 'built-in' };
  const layers: [string, Partial<Limits> | undefined][] = [
    ['defaults', cfg.defaults.limits],
    ...[...groups].sort().map((g): [string, Partial<Limits> | undefined] => [`group ${g}`, cfg.groups[g]?.limits]),
    [`user ${user}`, cfg.users[user]?.limits],
  ];
  for (const [name, layer] of layers) {
    if (!layer) continue;
    for (const k of Object.keys(limits) as (keyof Limits)[]) {
      const v = layer[k];
      if (v !== undefined) {
        limits[k] = v;
        from[k] = name;
      }
    }
  }
  return { limits, from };
}
