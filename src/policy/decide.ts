/**
 * decide(): the admin policy as one pure function. Given what a user asked for,
 * who they are, what they already use and the configuration, it returns either
 * the exact run parameters of the container (the only values the create saga
 * puts into a ContainerSpec) or a refusal that names the rule and the layer it
 * came from, e.g. `policy: images.deny "^.*:latest$" (group students)`.
 *
 * It is called inside the BEGIN IMMEDIATE transaction that reserves ports, with
 * usage read in that same transaction, so quotas and GPU picks cannot race.
 */
import type { Config } from '../config.js';
import { BASE_CAPABILITIES } from './capabilities.js';
import { effectivePolicy, type EffectivePolicy, type Sourced } from './effective.js';
import { normaliseForPolicy, matchesRef } from './image-ref.js';
import { formatSize } from '../sizes.js';
import { expandSource, type MountVars } from './mount-template.js';

/** What the user asked for, already parsed into typed values. */
export interface PolicyRequest {
  /** The resolved image reference, and whether it is one the user committed. */
  image: { ref: string; own: boolean };
  preset?: string;
  /** Names from the admin's mount catalogue. */
  mounts?: string[];
  /** A mode the user asked for a mount (`--mount data:ro`): ro makes any mount read-only; rw is refused for a ro one. */
  mountModes?: Record<string, 'ro' | 'rw'>;
  /** false: leave out the catalogue's `default: true` mounts (`--no-default-mounts`). */
  defaultMounts?: boolean;
  /** `--gpus N` or `--gpus 0,3`. */
  gpus?: { count: number } | { ids: string[] };
  ports?: number[];
}

/** The caller, as the policy needs them. */
export interface PolicyUser {
  name: string;
  uid: number;
  gid: number;
  /** Home of the host account of the same name and uid, for mount sources that use {home}; null or absent: none. */
  home?: string | null;
}

/** What the user holds now (all their containers, running or not). */
export interface Usage {
  containers: number;
  running: number;
  memoryBytes: number;
  cpus: number;
  /** GPU ids held by any container of any user. */
  gpusInUse: string[];
}

/** One bind mount chosen by policy. */
export interface PolicyMount {
  name: string;
  source: string;
  target: string;
  readOnly: boolean;
}

/** The run parameters a policy grants: everything variable in the container spec. */
export interface Decision {
  ok: true;
  preset: string | null;
  memoryBytes: number;
  cpus: number;
  pids: number;
  capAdd: string[];
  env: Record<string, string>;
  mounts: PolicyMount[];
  /**
   * null: users may log in as root (DCM style); otherwise every session runs as
   * the user's host uid:gid (userdocker style) and root login is impossible.
   */
  runAs: { uid: number; gid: number } | null;
  ports: number[];
  sshRange: { lo: number; hi: number };
  ipAliases: string[];
  gpus: { id: string; devices: string[] }[];
  /** Device nodes every GPU container needs besides its GPUs' own. */
  sharedDevices: string[];
}

/** A refusal: `rule` names the policy rule and layer; `message` is the user's one line. */
export interface Refusal {
  ok: false;
  code: 'denied' | 'limit' | 'invalid';
  rule: string;
  message: string;
}

export type PolicyConfig = Pick<Config, 'defaults' | 'groups' | 'users' | 'network' | 'mounts' | 'presets' | 'gpus'>;

const q = (s: string) => JSON.stringify(s);
const at = (s: Sourced<unknown>) => `(${s.from})`;

function refuse(code: Refusal['code'], what: string, rule: string): Refusal {
  return { ok: false, code, rule, message: `${what} — policy: ${rule}` };
}

export function decide(req: PolicyRequest, user: PolicyUser, groups: string[], usage: Usage, cfg: PolicyConfig): Decision | Refusal {
  const pol = effectivePolicy(cfg, user.name, groups);

  // Presets: one, granted, never altered.
  let preset: Config['presets'][string] | undefined;
  if (req.preset !== undefined) {
    const grant = pol.presets.find((p) => p.value === req.preset);
    preset = cfg.presets[req.preset];
    if (!grant || !preset) {
      const granted = pol.presets.map((p) => p.value).join(', ') || 'none';
      return refuse('denied', `preset ${q(req.preset)} is not granted to you (yours: ${granted})`, 'presets');
    }
  }

  const img = checkImage(req.image, pol);
  if (img) return img;

  const mounts = chooseMounts(req, preset?.mounts ?? [], pol, cfg, {
    user: user.name,
    uid: user.uid,
    gid: user.gid,
    home: user.home ?? null,
  });
  if ('ok' in mounts) return mounts;

  const memoryBytes = preset?.memory ?? (pol.limits.memory.value as number);
  const cpus = preset?.cpus ?? (pol.limits.cpus.value as number);
  const pids = preset?.pids ?? (pol.limits.pids.value as number);

  // What was asked for is checked before how much is already used, so a user
  // learns about a bad request even while at a quota.
  const ports = checkPorts(req.ports ?? [], pol, preset, req.preset, cfg);
  if (!Array.isArray(ports)) return ports;

  const quota = checkQuotas(pol, usage, memoryBytes, cpus);
  if (quota) return quota;

  const gpus = chooseGpus(req, preset, pol, usage, cfg);
  if (!Array.isArray(gpus)) return gpus;

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(pol.env)) env[k] = v.value;
  return {
    ok: true,
    preset: req.preset ?? null,
    memoryBytes,
    cpus,
    pids,
    capAdd: [...new Set([...BASE_CAPABILITIES, ...pol.capAdd.map((c) => c.value)])],
    env,
    mounts,
    runAs: pol.runAs.value === 'host' ? { uid: user.uid, gid: user.gid } : null,
    ports,
    sshRange: pol.ports.ssh.value,
    ipAliases: pol.ports.ipAliases.value,
    gpus,
    sharedDevices: gpus.length ? cfg.gpus.shared_devices : [],
  };
}

/** Deny rules always win; allow rules apply to base images, `images.own` to the user's own. */
function checkImage(image: PolicyRequest['image'], pol: EffectivePolicy): Refusal | null {
  const full = normaliseForPolicy(image.ref);
  const deny = pol.images.deny.find((d) => matchesRef(d.value, image.ref));
  if (deny) return refuse('denied', `image ${full} is not allowed`, `images.deny ${q(deny.value)} ${at(deny)}`);
  if (image.own) {
    if (!pol.images.own.value)
      return refuse('denied', `creating from your own images is not allowed`, `images.own false ${at(pol.images.own)}`);
    return null;
  }
  // No allow rule anywhere: every registered base image is allowed.
  if (pol.images.allow.length && !pol.images.allow.some((a) => matchesRef(a.value, image.ref))) {
    const list = pol.images.allow.map((a) => `${q(a.value)} ${at(a)}`).join(', ');
    return refuse('denied', `image ${full} is not allowed`, `images.allow matches none of ${list}`);
  }
  return null;
}

function chooseMounts(
  req: PolicyRequest,
  fromPreset: string[],
  pol: EffectivePolicy,
  cfg: PolicyConfig,
  vars: MountVars,
): PolicyMount[] | Refusal {
  const denied = (n: string) => pol.mounts.deny.find((d) => d.value === n);
  const offered = (n: string) => cfg.mounts[n] !== undefined && pol.mounts.allow.some((a) => a.value === n);
  const names: string[] = [];
  // Always-mounts and the preset's come first; a deny rule removes even those.
  for (const n of [...pol.mounts.always.map((m) => m.value), ...fromPreset]) if (!denied(n) && !names.includes(n)) names.push(n);
  // Default mounts: those of the catalogue marked default that are offered to this user, unless they said no.
  if (req.defaultMounts !== false)
    for (const [n, m] of Object.entries(cfg.mounts)) if (m.default && offered(n) && !denied(n) && !names.includes(n)) names.push(n);
  for (const n of req.mounts ?? []) {
    const d = denied(n);
    if (d) return refuse('denied', `mount ${q(n)} is not allowed`, `mounts.deny ${q(n)} ${at(d)}`);
    if (names.includes(n)) continue; // asked for one they get anyway (perhaps to make it read-only)
    if (!offered(n)) {
      const mine =
        pol.mounts.allow
          .filter((a) => !denied(a.value))
          .map((a) => a.value)
          .join(', ') || 'none';
      return refuse('denied', `mount ${q(n)} is not offered to you (yours: ${mine})`, 'mounts.allow');
    }
    names.push(n);
  }
  // A mode asked for a mount that is not in the container is a mistake worth saying.
  for (const n of Object.keys(req.mountModes ?? {}))
    if (!names.includes(n)) return refuse('invalid', `mount ${q(n)} is not one of this container's mounts`, 'mounts');
  const out: PolicyMount[] = [];
  for (const name of names) {
    const m = cfg.mounts[name]!;
    const asked = req.mountModes?.[name];
    // A user may make a mount read-only, never the reverse.
    if (asked === 'rw' && m.mode === 'ro')
      return refuse('denied', `mount ${q(name)} is read-only: it cannot be mounted read-write`, `mounts.${name}.mode ro`);
    const source = expandSource(m.source, vars);
    if ('error' in source) return refuse('denied', `mount ${q(name)} cannot be made for you: ${source.error}`, `mounts.${name}.source`);
    out.push({ name, source: source.path, target: m.target, readOnly: m.mode === 'ro' || asked === 'ro' });
  }
  const targets = new Set<string>();
  for (const m of out) {
    if (targets.has(m.target)) return refuse('invalid', `two mounts want ${m.target}`, `mounts (${names.join(', ')})`);
    targets.add(m.target);
  }
  return out;
}

function checkQuotas(pol: EffectivePolicy, u: Usage, memoryBytes: number, cpus: number): Refusal | null {
  const L = pol.limits;
  const cap = (k: keyof typeof L) => L[k].value;
  const maxC = cap('max_containers');
  if (maxC !== null && u.containers + 1 > maxC) {
    return refuse(
      'limit',
      `limit reached: you have ${u.containers} of ${maxC} containers allowed; remove one first`,
      `limits.max_containers ${maxC} ${at(L.max_containers)}`,
    );
  }
  const maxR = cap('max_running');
  if (maxR !== null && u.running + 1 > maxR) {
    return refuse(
      'limit',
      `limit reached: ${u.running} of ${maxR} running containers allowed; stop one first`,
      `limits.max_running ${maxR} ${at(L.max_running)}`,
    );
  }
  const maxM = cap('total_memory');
  if (maxM !== null && u.memoryBytes + memoryBytes > maxM) {
    return refuse(
      'limit',
      `limit reached: your containers have ${formatSize(u.memoryBytes)} of ${formatSize(maxM)} memory allowed; this one needs ${formatSize(memoryBytes)}`,
      `limits.total_memory ${formatSize(maxM)} ${at(L.total_memory)}`,
    );
  }
  const maxCpu = cap('total_cpus');
  if (maxCpu !== null && u.cpus + cpus > maxCpu + 1e-9) {
    return refuse(
      'limit',
      `limit reached: your containers have ${u.cpus} of ${maxCpu} CPUs allowed; this one needs ${cpus}`,
      `limits.total_cpus ${maxCpu} ${at(L.total_cpus)}`,
    );
  }
  return null;
}

function checkPorts(
  ports: number[],
  pol: EffectivePolicy,
  preset: Config['presets'][string] | undefined,
  presetName: string | undefined,
  cfg: PolicyConfig,
): number[] | Refusal {
  const unique = [...new Set(ports)];
  const max = pol.ports.maxExtra;
  if (unique.length > max.value) {
    return refuse(
      'limit',
      `${unique.length} extra ports asked for, at most ${max.value} allowed`,
      `ports.max_extra ${max.value} ${at(max)}`,
    );
  }
  const range = preset?.ports ? { value: preset.ports, from: `preset ${presetName}` } : pol.ports.extra;
  const ssh = [cfg.network.ssh_ports, pol.ports.ssh.value];
  for (const p of unique) {
    if (p < range.value.lo || p > range.value.hi) {
      return refuse(
        'denied',
        `port ${p} is not allowed: extra ports must be in ${range.value.lo}-${range.value.hi}`,
        `ports.extra ${range.value.lo}-${range.value.hi} (${range.from})`,
      );
    }
    const r = ssh.find((s) => p >= s.lo && p <= s.hi);
    if (r) return refuse('denied', `port ${p} is not allowed: ${r.lo}-${r.hi} is reserved for SSH ports`, `ports.ssh ${r.lo}-${r.hi}`);
  }
  return unique;
}

function chooseGpus(
  req: PolicyRequest,
  preset: Config['presets'][string] | undefined,
  pol: EffectivePolicy,
  u: Usage,
  cfg: PolicyConfig,
): { id: string; devices: string[] }[] | Refusal {
  // With a preset, its GPU count (none if it names none) is the only one possible.
  const fixed = preset ? (preset.gpus ?? 0) : undefined;
  const asked = req.gpus ?? (fixed ? { count: fixed } : undefined);
  if (!asked) return [];
  const want = 'count' in asked ? asked.count : asked.ids.length;
  const max = fixed !== undefined ? { value: fixed, from: `preset ${req.preset}` } : pol.gpus.max;
  if (fixed !== undefined && want !== fixed) {
    return refuse(
      'denied',
      `preset ${req.preset} gives exactly ${fixed} GPU${fixed === 1 ? '' : 's'}; presets cannot be altered`,
      `presets.${req.preset}.gpus ${fixed}`,
    );
  }
  if (want === 0) return [];
  if (want > max.value) {
    return refuse(
      'limit',
      `${want} GPU${want === 1 ? '' : 's'} asked for, at most ${max.value} allowed`,
      `gpus.max ${max.value} ${at(max)}`,
    );
  }
  const inventory = new Map(cfg.gpus.inventory.map((g) => [g.id, g.devices]));
  const allow = pol.gpus.allow.value;
  const eligible = cfg.gpus.inventory
    .map((g) => g.id)
    .filter((id) => (allow === null || allow.includes(id)) && !pol.gpus.deny.some((d) => d.value === id));
  const inUse = new Set(u.gpusInUse);
  let ids: string[];
  if ('ids' in asked) {
    for (const id of asked.ids) {
      if (!inventory.has(id))
        return refuse('invalid', `no GPU ${q(id)} on this server (GPUs: ${[...inventory.keys()].join(', ') || 'none'})`, 'gpus.inventory');
      const d = pol.gpus.deny.find((x) => x.value === id);
      if (d) return refuse('denied', `GPU ${id} is not allowed`, `gpus.deny ${q(id)} ${at(d)}`);
      if (!eligible.includes(id))
        return refuse('denied', `GPU ${id} is not allowed (yours: ${eligible.join(', ') || 'none'})`, `gpus.allow ${at(pol.gpus.allow)}`);
      if (inUse.has(id))
        return refuse(
          'limit',
          `GPU ${id} is in use (free: ${eligible.filter((e) => !inUse.has(e)).join(', ') || 'none'})`,
          'gpus (exclusive reservation)',
        );
    }
    ids = [...new Set(asked.ids)];
  } else {
    const free = eligible.filter((id) => !inUse.has(id));
    if (free.length < want) {
      return refuse(
        'limit',
        `${want} GPU${want === 1 ? '' : 's'} asked for, ${free.length} of the ${eligible.length} you may use ${free.length === 1 ? 'is' : 'are'} free`,
        'gpus (exclusive reservation)',
      );
    }
    ids = free.slice(0, want);
  }
  return ids.map((id) => ({ id, devices: inventory.get(id)! }));
}

/** Commit: how many images a user may keep. */
export function decideCommit(user: string, groups: string[], ownImages: number, cfg: PolicyConfig): Refusal | null {
  const pol = effectivePolicy(cfg, user, groups);
  const m = pol.images.max_own;
  if (ownImages + 1 > m.value)
    return refuse(
      'limit',
      `limit reached: you have ${ownImages} of ${m.value} images allowed; remove one with rmi first`,
      `images.max_own ${m.value} ${at(m)}`,
    );
  return null;
}

/** Start: the running-containers aggregate. */
export function decideStart(user: string, groups: string[], running: number, cfg: PolicyConfig): Refusal | null {
  const pol = effectivePolicy(cfg, user, groups);
  const m = pol.limits.max_running;
  if (m.value !== null && running + 1 > m.value) {
    return refuse(
      'limit',
      `limit reached: ${running} of ${m.value} running containers allowed; stop one first`,
      `limits.max_running ${m.value} ${at(m)}`,
    );
  }
  return null;
}
