/**
 * `dcm-admin policy show`: the effective policy as rows of (field, value,
 * layer it came from). Pure; rendering to a table is the caller's.
 */
import { formatSize } from '../sizes.js';
import { commandGrant, type EffectivePolicy, type Sourced } from './effective.js';
import { GRANTABLE_COMMANDS } from './command-grants.js';

/** One line of the report. */
export interface PolicyRow {
  field: string;
  value: string;
  from: string;
}

const range = (r: { lo: number; hi: number }) => `${r.lo}-${r.hi}`;

export function policyRows(p: EffectivePolicy): PolicyRow[] {
  const rows: PolicyRow[] = [];
  const one = <T>(field: string, s: Sourced<T>, fmt: (v: T) => string = String) =>
    rows.push({ field, value: s.value === null ? 'no limit' : fmt(s.value), from: s.from });
  const many = (field: string, list: Sourced<string>[], fmt: (v: string) => string = (v) => v) => {
    if (!list.length) rows.push({ field, value: '(none)', from: '-' });
    for (const s of list) rows.push({ field, value: fmt(s.value), from: s.from });
  };
  for (const [k, s] of Object.entries(p.limits)) {
    one(`limits.${k}`, s as Sourced<number | null>, k.includes('memory') ? (v) => formatSize(v as number) : String);
  }
  many('images.allow', p.images.allow, JSON.stringify);
  if (!p.images.allow.length) rows[rows.length - 1]!.value = '(none: every registered base image)';
  many('images.deny', p.images.deny, JSON.stringify);
  one('images.own', p.images.own);
  one('images.max_own', p.images.max_own);
  many('presets', p.presets);
  many('mounts.always', p.mounts.always);
  many('mounts.allow', p.mounts.allow);
  many('mounts.deny', p.mounts.deny);
  one('user', p.runAs);
  many('cap_add', p.capAdd);
  const env = Object.entries(p.env);
  if (!env.length) rows.push({ field: 'env', value: '(none)', from: '-' });
  for (const [k, s] of env) rows.push({ field: `env.${k}`, value: JSON.stringify(s.value), from: s.from });
  one('ports.extra', p.ports.extra, range);
  one('ports.max_extra', p.ports.maxExtra);
  one('ports.ip_aliases', p.ports.ipAliases, (v) => v.join(', '));
  one('ports.ssh', p.ports.ssh, range);
  one('gpus.max', p.gpus.max);
  one('gpus.allow', p.gpus.allow, (v) => (v === null ? 'every GPU' : v.join(', ') || '(none)'));
  if (p.gpus.allow.value === null) rows[rows.length - 1]!.value = 'every GPU';
  many('gpus.deny', p.gpus.deny);
  // Each command once: granted or not, and by which layer (a deny names its rule).
  for (const c of GRANTABLE_COMMANDS) {
    const g = commandGrant(p, c);
    rows.push({ field: `commands.${c}`, value: g.granted ? 'granted' : 'not granted', from: g.from });
  }
  return rows;
}
