/**
 * Warnings for `policy check`: a read-write catalogue mount offered (always,
 * on request, or through a preset) to a layer whose users log in as root.
 * Root in one container can read and change every other user's files on a
 * shared mount, whatever the file modes say, with or without user namespaces
 * (all containers' root is the same host id). Pure.
 */
import type { Config, PolicyLayer } from '../config.js';
import { effectivePolicy } from './effective.js';
import type { PolicyFinding } from './policy-check.js';

type Cfg = Pick<Config, 'defaults' | 'groups' | 'users' | 'network' | 'mounts' | 'presets'>;

/** Mount names a layer offers, directly or through the presets it grants. */
function offered(cfg: Cfg, l: PolicyLayer): string[] {
  const names = [...(l.mounts?.always ?? []), ...(l.mounts?.allow ?? [])];
  for (const p of l.presets ?? []) names.push(...(cfg.presets[p]?.mounts ?? []));
  const denied = new Set(l.mounts?.deny ?? []);
  return [...new Set(names)].filter((n) => !denied.has(n));
}

/** One warning per (rw mount, layer that offers it to root logins). */
export function rwMountWarnings(cfg: Cfg): PolicyFinding[] {
  const rw = new Set(
    Object.entries(cfg.mounts)
      .filter(([, m]) => m.mode === 'rw')
      .map(([n]) => n),
  );
  if (!rw.size) return [];
  // A member of only this layer: does their effective policy let them log in as root?
  const layers: [string, PolicyLayer, boolean][] = [
    ['defaults', cfg.defaults, effectivePolicy(cfg, '', []).runAs.value === 'root'],
    ...Object.entries(cfg.groups).map(([g, l]): [string, PolicyLayer, boolean] => [
      `groups.${g}`,
      l,
      effectivePolicy(cfg, '', [g]).runAs.value === 'root',
    ]),
    ...Object.entries(cfg.users).map(([u, l]): [string, PolicyLayer, boolean] => [
      `users.${u}`,
      l,
      effectivePolicy(cfg, u, []).runAs.value === 'root',
    ]),
  ];
  const out: PolicyFinding[] = [];
  for (const [at, l, root] of layers) {
    if (!root) continue;
    for (const n of offered(cfg, l).filter((x) => rw.has(x))) {
      out.push({
        level: 'warning',
        field: `mounts.${n}`,
        message: `read-write and offered by ${at}, whose users log in as root: each of them can read and change the others' files there (set user: host for them, or make the mount ro)`,
      });
    }
  }
  return out;
}
