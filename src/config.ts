/**
 * Typed configuration: one YAML file (default /etc/dcm/config.yaml), validated
 * with zod so that every error names the file, the field path and what is allowed.
 * A missing file at the default path means "all defaults"; a file named
 * explicitly must exist.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DcmError } from './errors.js';

export const DEFAULT_STATE_DIR = '/var/lib/dcm';
export const DEFAULT_CONFIG_FILE = '/etc/dcm/config.yaml';

/** Root of the installed package (dist/src/config.js → ../..). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** "lo-hi" → {lo, hi}, both within 1..max. */
const numRange = (max: number, example: string) =>
  z
    .string()
    .regex(/^\d+-\d+$/, `a range like "${example}"`)
    .transform((s, ctx) => {
      const [lo, hi] = s.split('-').map(Number) as [number, number];
      if (lo < 1 || hi > max || lo > hi) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be low-high within 1-${max}` });
        return z.NEVER;
      }
      return { lo, hi };
    });
const portRange = numRange(65535, '20000-29999');

const ipv4 = z.string().regex(/^(\d{1,3})(\.\d{1,3}){3}$/, 'an IPv4 address such as 127.0.0.1');

/** Sizes like 512m, 2g, 1073741824 → bytes. */
const size = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?[kmgt]?b?$/i, 'a size like 512m or 4g')])
  .transform((v) => (typeof v === 'number' ? v : parseSize(v)));

export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)b?$/i.exec(text.trim());
  if (!m) throw new DcmError('invalid', `not a size: ${text}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}

/** Per-layer limits; every field optional so group/user layers can override one value. */
const limitsSchema = z
  .object({
    memory: size.optional(),
    cpus: z.number().positive().max(1024).optional(),
    pids: z.number().int().min(16).max(1_000_000).optional(),
    max_containers: z.number().int().min(0).max(10_000).optional(),
  })
  .strict();

const layerSchema = z
  .object({
    limits: limitsSchema.optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /** Address users are told to connect to (`ssh -p PORT user@host`). */
    host: z.string().min(1).default('127.0.0.1'),
    default_image: z.string().min(1).default('dcm/debian-base:bookworm'),
    network: z
      .object({
        ssh_ports: portRange.default('20000-29999'),
        ip_aliases: z.array(ipv4).min(1).default(['127.0.0.1']),
        /** Host ports users may publish with `create --port`. */
        extra_ports: portRange.default('1024-65535'),
      })
      .strict()
      .default({}),
    /**
     * Name of this dcm installation: prefixes Docker container names and is set
     * as the dcm.instance label, so that several installations (or test runs)
     * can share one engine and reconcile only touches its own objects.
     */
    instance: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'lower-case letters, digits and hyphens').default('dcm'),
    engine: z
      .object({
        socket: z.string().default('/var/run/docker.sock'),
        /** Seconds Docker waits for a graceful stop before SIGKILL. */
        stop_timeout: z.number().int().min(0).max(300).default(10),
        /** Seconds `create`/`start` wait for the container's sshd to answer. */
        ready_timeout: z.number().int().min(1).max(600).default(30),
      })
      .strict()
      .default({}),
    storage: z
      .object({
        /** Where per-user storage lives; default: <state dir>/storage. */
        dir: z.string().optional(),
        /** uids/gids given to dcm users that have no host account of the same name. */
        uid_range: numRange(2 ** 31 - 2, '200000-299999').default('200000-299999'),
      })
      .strict()
      .default({}),
    /** Path of the container init script; default: the one shipped in images/. */
    init_script: z.string().optional(),
    defaults: layerSchema.default({}),
    groups: z.record(layerSchema).default({}),
    users: z.record(layerSchema).default({}),
  })
  .strict();

export type ConfigFile = z.infer<typeof configSchema>;

/** Built-in limits applied when no layer sets a value. */
export const BUILTIN_LIMITS = { memory: 2 * 1024 ** 3, cpus: 2, pids: 1024, max_containers: 10 } as const;

/** Fully resolved configuration with all paths made absolute. */
export interface Config extends Omit<ConfigFile, 'storage' | 'init_script'> {
  stateDir: string;
  configFile: string | null;
  dbFile: string;
  storageDir: string;
  initScript: string;
  uidRange: { lo: number; hi: number };
}

export interface ConfigSource {
  stateDir?: string;
  configFile?: string;
}

/** Load and validate; throws DcmError('config') naming file and field path. */
export function loadConfig(src: ConfigSource = {}): Config {
  const stateDir = src.stateDir ?? process.env.DCM_STATE_DIR ?? DEFAULT_STATE_DIR;
  const explicit = src.configFile ?? process.env.DCM_CONFIG;
  const file = explicit ?? DEFAULT_CONFIG_FILE;
  let raw: unknown = {};
  let used: string | null = null;
  if (existsSync(file)) {
    try {
      raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
    } catch (e) {
      throw new DcmError('config', `${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    used = file;
  } else if (explicit) {
    throw new DcmError('config', `${file}: config file not found`);
  }
  return resolveConfig(raw, stateDir, used);
}

/** Validate an already-parsed document (used by tests and `policy check`). */
export function resolveConfig(raw: unknown, stateDir: string, file: string | null): Config {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new DcmError('config', `${file ?? 'config'}: ${path}: ${issue.message}`);
  }
  const c = parsed.data;
  return {
    host: c.host,
    instance: c.instance,
    default_image: c.default_image,
    network: c.network,
    engine: c.engine,
    defaults: c.defaults,
    groups: c.groups,
    users: c.users,
    stateDir,
    configFile: file,
    dbFile: join(stateDir, 'dcm.db'),
    storageDir: c.storage.dir ?? join(stateDir, 'storage'),
    initScript: c.init_script ?? join(PACKAGE_ROOT, 'images', 'dcm-init.sh'),
    uidRange: c.storage.uid_range,
  };
}
