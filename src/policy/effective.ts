/**
 * The effective policy of one user: built-in values, then `defaults`, then each
 * of the user's groups in name order, then `users.<name>`. Scalars: the most
 * specific layer that sets a value wins (between two groups, the later name).
 * Allow lists and grants accumulate; deny lists accumulate and always win over
 * allow lists (that is applied by decide()). Every value remembers the layer it
 * came from, so refusals and `dcm-admin policy show` can name it. Pure.
 */
import type { Config, PolicyLayer } from '../config.js';
import { ALWAYS_AVAILABLE, COMMAND_DEFAULTS, GRANTABLE_COMMANDS, type GrantableCommand } from './command-grants.js';

/** A value and the layer that set it: "built-in", "defaults", "group NAME", "user NAME". */
export interface Sourced<T> {
  value: T;
  from: string;
}

/** Built-in values used when no layer sets one; null means "no limit". */
const BUILTIN = {
  memory: 2 * 1024 ** 3,
  cpus: 2,
  pids: 1024,
  max_containers: 10,
  max_running: null as number | null,
  total_memory: null as number | null,
  total_cpus: null as number | null,
  max_own_images: 20,
  max_extra_ports: 16,
} as const;

export type LimitKey = 'memory' | 'cpus' | 'pids' | 'max_containers' | 'max_running' | 'total_memory' | 'total_cpus';

/** The merged policy; see the module comment for the merge rules. */
export interface EffectivePolicy {
  user: string;
  groups: string[];
  limits: Record<LimitKey, Sourced<number | null>>;
  images: { allow: Sourced<string>[]; deny: Sourced<string>[]; own: Sourced<boolean>; max_own: Sourced<number> };
  presets: Sourced<string>[];
  mounts: { always: Sourced<string>[]; allow: Sourced<string>[]; deny: Sourced<string>[] };
  runAs: Sourced<'root' | 'host'>;
  capAdd: Sourced<string>[];
  env: Record<string, Sourced<string>>;
  ports: {
    extra: Sourced<{ lo: number; hi: number }>;
    maxExtra: Sourced<number>;
    ipAliases: Sourced<string[]>;
    ssh: Sourced<{ lo: number; hi: number }>;
  };
  gpus: { max: Sourced<number>; allow: Sourced<string[] | null>; deny: Sourced<string>[] };
  /** Command grants as the layers said them; commandGrant() decides with the built-in defaults. */
  commands: { allow: Sourced<string>[]; deny: Sourced<string>[] };
}

export type PolicyConfig = Pick<Config, 'defaults' | 'groups' | 'users' | 'network'>;

const builtin = <T>(value: T): Sourced<T> => ({ value, from: 'built-in' });

/** The layers that apply to a user, least specific first. */
function layersFor(cfg: PolicyConfig, user: string, groups: string[]): [string, PolicyLayer][] {
  const out: [string, PolicyLayer][] = [['defaults', cfg.defaults]];
  for (const g of [...groups].sort()) if (cfg.groups[g]) out.push([`group ${g}`, cfg.groups[g]!]);
  if (cfg.users[user]) out.push([`user ${user}`, cfg.users[user]!]);
  return out;
}

export function effectivePolicy(cfg: PolicyConfig, user: string, groups: string[]): EffectivePolicy {
  const p: EffectivePolicy = {
    user,
    groups: [...groups].sort(),
    limits: {
      memory: builtin(BUILTIN.memory),
      cpus: builtin(BUILTIN.cpus),
      pids: builtin(BUILTIN.pids),
      max_containers: builtin(BUILTIN.max_containers),
      max_running: builtin(BUILTIN.max_running),
      total_memory: builtin(BUILTIN.total_memory),
      total_cpus: builtin(BUILTIN.total_cpus),
    },
    images: { allow: [], deny: [], own: builtin(true), max_own: builtin(BUILTIN.max_own_images) },
    presets: [],
    mounts: { always: [], allow: [], deny: [] },
    runAs: builtin('root'),
    capAdd: [],
    env: {},
    ports: {
      extra: { value: cfg.network.extra_ports, from: 'network.extra_ports' },
      maxExtra: builtin(BUILTIN.max_extra_ports),
      ipAliases: { value: cfg.network.ip_aliases, from: 'network.ip_aliases' },
      ssh: { value: cfg.network.ssh_ports, from: 'network.ssh_ports' },
    },
    gpus: { max: builtin(0), allow: builtin(null), deny: [] },
    commands: { allow: [], deny: [] },
  };
  for (const [from, l] of layersFor(cfg, user, groups)) {
    const set = <T>(v: T | undefined): Sourced<T> | undefined => (v === undefined ? undefined : { value: v, from });
    const add = (list: Sourced<string>[], items: string[] | undefined) => {
      for (const v of items ?? []) if (!list.some((x) => x.value === v)) list.push({ value: v, from });
    };
    for (const k of Object.keys(p.limits) as LimitKey[]) p.limits[k] = set(l.limits?.[k]) ?? p.limits[k];
    add(p.images.allow, l.images?.allow);
    add(p.images.deny, l.images?.deny);
    p.images.own = set(l.images?.own) ?? p.images.own;
    p.images.max_own = set(l.images?.max_own) ?? p.images.max_own;
    add(p.presets, l.presets);
    add(p.mounts.always, l.mounts?.always);
    add(p.mounts.allow, l.mounts?.allow);
    add(p.mounts.deny, l.mounts?.deny);
    p.runAs = set(l.user) ?? p.runAs;
    add(p.capAdd, l.cap_add);
    for (const [k, v] of Object.entries(l.env ?? {})) p.env[k] = { value: v, from };
    p.ports.extra = set(l.ports?.extra) ?? p.ports.extra;
    p.ports.maxExtra = set(l.ports?.max_extra) ?? p.ports.maxExtra;
    p.ports.ipAliases = set(l.ports?.ip_aliases) ?? p.ports.ipAliases;
    p.ports.ssh = set(l.ports?.ssh) ?? p.ports.ssh;
    p.gpus.max = set(l.gpus?.max) ?? p.gpus.max;
    p.gpus.allow = set<string[] | null>(l.gpus?.allow) ?? p.gpus.allow;
    add(p.gpus.deny, l.gpus?.deny);
    add(p.commands.allow, l.commands?.allow);
    add(p.commands.deny, l.commands?.deny);
  }
  return p;
}

/** Whether a user has a command: a deny in any layer wins, then an allow in any layer, then the built-in default. */
export type CommandGrant = { granted: true; from: string } | { granted: false; from: string; rule: string };

export function commandGrant(
  p: Pick<EffectivePolicy, 'commands'>,
  name: string,
  defaults: Readonly<Record<string, boolean>> = COMMAND_DEFAULTS,
): CommandGrant {
  if ((ALWAYS_AVAILABLE as readonly string[]).includes(name)) return { granted: true, from: 'built-in' };
  if (!Object.hasOwn(defaults, name))
    return { granted: false, from: 'built-in', rule: `commands: ${name} is not a command the policy knows` };
  const deny = p.commands.deny.find((d) => d.value === name);
  if (deny) return { granted: false, from: deny.from, rule: `commands.deny ${JSON.stringify(name)} (${deny.from})` };
  const allow = p.commands.allow.find((a) => a.value === name);
  if (allow) return { granted: true, from: allow.from };
  if (defaults[name]) return { granted: true, from: 'built-in' };
  return { granted: false, from: 'built-in', rule: `commands.allow: ${name} is off unless a layer allows it (built-in)` };
}

/** The grantable commands a user has, in the table's order. */
export function grantedCommands(p: Pick<EffectivePolicy, 'commands'>): GrantableCommand[] {
  return GRANTABLE_COMMANDS.filter((c) => commandGrant(p, c).granted);
}
