/**
 * Typed configuration: one YAML file (default /etc/dcm/config.yaml), validated
 * with zod so that every error names the file, the field path and what is allowed.
 * The file must exist and be readable, at the default path as much as at a
 * named one: a file moved away mid-edit or a directory the account cannot
 * read must never quietly mean "built-in defaults" (every deny list, group
 * limit and `user: host` would vanish). `{}` is the explicit way to ask for
 * the defaults; a file with no document at all (empty, or only comments) is
 * refused, because that is also what a file being rewritten in place looks like.
 */
import { readConfigText } from './config-file.js';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { DcmError } from './errors.js';
import { DEFAULT_CONFIG_FILE, PACKAGE_ROOT, dbFileOf, stateDirOf } from './paths.js';
import { userSubnetProblems } from './net/user-subnets.js';
import { algorithmsSchema } from './ssh/algorithms.js';
import { parseSize } from './sizes.js';
import { sampleOf, templateProblem } from './policy/mount-template.js';
import { ALWAYS_AVAILABLE, COMMAND_ALIASES, GRANTABLE_COMMANDS, isGrantable } from './policy/command-grants.js';

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

/** A JavaScript regular expression, checked when the file is loaded. */
const regex = z
  .string()
  .min(1)
  .superRefine((s, ctx) => {
    try {
      new RegExp(s);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a valid regular expression: ${(e as Error).message}` });
    }
  });

/** Names the admin gives presets, mounts and GPUs. */
const policyName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, . _ -');
const gpuId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a GPU id such as "0" or "GPU-3f2a"');
const absPath = z
  .string()
  .regex(/^\/[^:,\0]*$/, 'an absolute path without ":" or ","')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
  .refine((n) => !n.startsWith('DCM_'), 'DCM_* variables are set by dcm itself')
  .refine((n) => n !== 'NVIDIA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES is set by dcm to the GPUs a container reserved');

/** A user command named in `commands.allow`/`deny`: one the table in policy/command-grants.ts knows. */
const commandName = z.string().superRefine((s, ctx) => {
  if (isGrantable(s)) return;
  const alias = Object.hasOwn(COMMAND_ALIASES, s) ? COMMAND_ALIASES[s] : undefined;
  const message = (ALWAYS_AVAILABLE as readonly string[]).includes(s)
    ? `${s} is always available and cannot be granted or denied`
    : alias
      ? `${s} is another name for ${alias}: write ${alias}`
      : `unknown command "${s.slice(0, 40)}": one of ${GRANTABLE_COMMANDS.join(', ')}`;
  ctx.addIssue({ code: z.ZodIssueCode.custom, message });
});

/** Linux capabilities an admin may add back on top of CapDrop ALL. */
const KNOWN_CAPABILITIES = [
  'AUDIT_CONTROL',
  'AUDIT_READ',
  'AUDIT_WRITE',
  'BLOCK_SUSPEND',
  'BPF',
  'CHECKPOINT_RESTORE',
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'IPC_LOCK',
  'IPC_OWNER',
  'KILL',
  'LEASE',
  'LINUX_IMMUTABLE',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'MKNOD',
  'NET_ADMIN',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_RAW',
  'PERFMON',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYSLOG',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_CHROOT',
  'SYS_MODULE',
  'SYS_NICE',
  'SYS_PACCT',
  'SYS_PTRACE',
  'SYS_RAWIO',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'WAKE_ALARM',
] as const;
const capability = z.enum(KNOWN_CAPABILITIES, {
  errorMap: () => ({ message: `a capability name without CAP_, one of ${KNOWN_CAPABILITIES.join(', ')}` }),
});

/** Per-layer limits; every field optional so group/user layers can override one value. */
const limitsSchema = z
  .object({
    memory: size.optional(),
    cpus: z.number().positive().max(1024).optional(),
    pids: z.number().int().min(16).max(1_000_000).optional(),
    max_containers: z.number().int().min(0).max(10_000).optional(),
    /** Per-user aggregates over all of the user's containers. */
    max_running: z.number().int().min(0).max(10_000).optional(),
    total_memory: size.optional(),
    total_cpus: z.number().positive().max(100_000).optional(),
  })
  .strict();

const layerSchema = z
  .object({
    limits: limitsSchema.optional(),
    images: z
      .object({
        allow: z.array(regex).optional(),
        deny: z.array(regex).optional(),
        /** May the user create containers from images they committed? */
        own: z.boolean().optional(),
        /** How many committed images a user may keep. */
        max_own: z.number().int().min(0).max(10_000).optional(),
      })
      .strict()
      .optional(),
    /** Presets granted (accumulate over layers). */
    presets: z.array(policyName).optional(),
    mounts: z
      .object({
        /** Catalogue mounts added to every container. */
        always: z.array(policyName).optional(),
        /** Catalogue mounts a user may ask for with create --mount NAME. */
        allow: z.array(policyName).optional(),
        deny: z.array(policyName).optional(),
      })
      .strict()
      .optional(),
    /** Who users log in as: root too (DCM style), or only their host uid:gid (userdocker style). */
    user: z.enum(['root', 'host']).optional(),
    /** Capabilities added on top of the built-in set (accumulate). */
    cap_add: z.array(capability).optional(),
    /** Environment forced into every container; the most specific layer wins per variable. */
    env: z.record(envName, z.string().max(4096)).optional(),
    ports: z
      .object({
        /** Host ports users may publish with create --port. */
        extra: portRange.optional(),
        max_extra: z.number().int().min(0).max(1000).optional(),
        /** IP aliases this layer's users may be placed on (must be configured in network.ip_aliases). */
        ip_aliases: z.array(ipv4).min(1).optional(),
        /** SSH ports (container ids) for this layer's users; within network.ssh_ports. */
        ssh: portRange.optional(),
      })
      .strict()
      .optional(),
    gpus: z
      .object({
        /** How many GPUs one container may take without a preset. */
        max: z.number().int().min(0).max(1024).optional(),
        /** Which GPU ids this layer may use (replaces, does not accumulate). */
        allow: z.array(gpuId).optional(),
        deny: z.array(gpuId).optional(),
      })
      .strict()
      .optional(),
    /** Which commands this layer's users have: allow accumulates, deny accumulates and wins (policy/command-grants.ts). */
    commands: z
      .object({
        allow: z.array(commandName).optional(),
        deny: z.array(commandName).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type PolicyLayer = z.infer<typeof layerSchema>;

/** A host directory the admin offers for mounting, by name. */
const mountSchema = z
  .object({
    /** A host path; it may use {user}, {uid}, {gid} and start with {home} (policy/mount-template.ts). */
    source: z.string().superRefine((p, ctx) => {
      const bad = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message });
      const problem = templateProblem(p);
      if (problem) return bad(problem);
      const sample = sampleOf(p);
      if (!/^\/[^:,\0]*$/.test(sample)) return bad('an absolute path without ":" or ","');
      if (sample.split('/').includes('..')) bad('must not contain ".."');
    }),
    target: absPath
      .refine((t) => !/[{}]/.test(t), '{user}, {uid}, {gid} and {home} are for the source only')
      .refine(
        (t) => t !== '/' && !/^\/(root|home|proc|sys|dev|etc|usr\/local\/lib\/dcm)(\/|$)/.test(t),
        "not /, /root, /home, /proc, /sys, /dev, /etc or dcm's own paths",
      ),
    mode: z.enum(['ro', 'rw']).default('ro'),
    /** Added to the containers of every user it is offered to (mounts.allow), unless they say --no-default-mounts. */
    default: z.boolean().default(false),
  })
  .strict();

/** A named bundle of extra run options; a user picks at most one. */
const presetSchema = z
  .object({
    description: z.string().max(200).optional(),
    memory: size.optional(),
    cpus: z.number().positive().max(1024).optional(),
    pids: z.number().int().min(16).max(1_000_000).optional(),
    gpus: z.number().int().min(0).max(1024).optional(),
    /** Catalogue mounts this preset adds. */
    mounts: z.array(policyName).optional(),
    /** Range of extra host ports this preset opens (replaces ports.extra). */
    ports: portRange.optional(),
  })
  .strict();

const gpusSchema = z
  .object({
    inventory: z.array(z.object({ id: gpuId, devices: z.array(absPath).min(1) }).strict()).default([]),
    /** Device nodes every GPU container also needs (e.g. /dev/nvidiactl). */
    shared_devices: z.array(absPath).default([]),
    /** Free a stopped container's GPUs (it takes them back on start, if still free). */
    release_on_stop: z.boolean().default(false),
  })
  .strict()
  .default({});

const configSchema = z
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
        /** Range each user's own bridge network takes a block from (see README "Networks"). */
        user_subnets: z.string().default('10.213.0.0/16'),
        /** Prefix length of one user's block: /27 holds 29 containers, 2048 users in a /16. */
        user_subnet_prefix: z.number().int().min(8).max(29).default(27),
      })
      .strict()
      .default({}),
    /**
     * Name of this dcm installation: prefixes Docker container names and is set
     * as the dcm.instance label. Installations sharing one engine are told
     * apart by their installation id (in the database, engine/labels.ts), even
     * when they use the same instance name.
     */
    instance: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'lower-case letters, digits and hyphens')
      .default('dcm'),
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
    /**
     * dcm-server (the embedded SSH door). Listens on loopback by default so a
     * fresh install is not exposed before the admin chooses to (set
     * "0.0.0.0:22" in production). Times are in seconds.
     */
    server: z
      .object({
        listen: z
          .string()
          .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'ADDR:PORT such as 0.0.0.0:2222 or [::]:2222')
          .default('127.0.0.1:2222'),
        /** Close a connection that has not authenticated within this time. */
        login_grace: z.number().int().min(1).max(600).default(30),
        /** Close a connection with no input and no command running for this long (0 = never). */
        idle_timeout: z.number().int().min(0).max(86_400).default(900),
        /** Concurrent session channels (shells and commands) one user may have open. */
        max_sessions_per_user: z.number().int().min(1).max(10_000).default(10),
        /** Failed logins from one address before it is refused for ban_time. */
        max_auth_failures: z.number().int().min(1).max(1000).default(10),
        ban_time: z.number().int().min(1).max(86_400).default(300),
        /** SSH algorithms offered, per kind; modern ones only unless widened for old clients. */
        algorithms: algorithmsSchema,
        /** Connections not logged in yet, in total and from one address (like OpenSSH's MaxStartups); more are closed at once. */
        max_startups: z.number().int().min(1).max(100_000).default(100),
        max_startups_per_address: z.number().int().min(1).max(100_000).default(10),
        /** Seconds between reconciles while the server runs (besides the one at start); 0 = only at start. */
        reconcile_interval: z.number().int().min(0).max(86_400).default(60),
        /**
         * Commands one user may run, over every door together: a sustained rate
         * a minute and a burst after a pause; more are refused until the rate allows.
         */
        commands_per_minute: z.number().int().min(1).max(1_000_000).default(600),
        command_burst: z.number().int().min(1).max(1_000_000).default(100),
      })
      .strict()
      .default({}),
    /** dcm-shell behind the host's OpenSSH (forced command). */
    openssh: z
      .object({
        /** Account whose authorized_keys lines run `dcm-shell --user NAME`; only it may pass --user. */
        service_account: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Unix account name')
          .default('dcm'),
        /** Group whose members are sent to dcm-shell by sshd's Match Group + ForceCommand. */
        group: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Unix group name')
          .default('dcm-users'),
      })
      .strict()
      .default({}),
    /** Path of the container init script; default: the one shipped in images/. */
    init_script: z.string().optional(),
    /** Seconds a host path of a mount may take to answer before create gives up. */
    mount_probe_timeout: z.number().positive().max(60).default(3),
    mounts: z.record(policyName, mountSchema).default({}),
    presets: z.record(policyName, presetSchema).default({}),
    gpus: gpusSchema,
    defaults: layerSchema.default({}),
    groups: z.record(layerSchema).default({}),
    users: z.record(layerSchema).default({}),
  })
  .strict()
  .superRefine(checkReferences)
  .superRefine(checkUserSubnets);

/** The users' network blocks must fit the range and the most containers any user may have. */
function checkUserSubnets(
  c: {
    network: { user_subnets: string; user_subnet_prefix: number };
    defaults: PolicyLayer;
    groups: Record<string, PolicyLayer>;
    users: Record<string, PolicyLayer>;
  },
  ctx: z.RefinementCtx,
): void {
  const layers = [c.defaults, ...Object.values(c.groups), ...Object.values(c.users)];
  const most = Math.max(
    c.defaults.limits?.max_containers ?? BUILTIN_LIMITS.max_containers,
    ...layers.map((l) => l.limits?.max_containers ?? 0),
  );
  for (const [field, message] of userSubnetProblems(c.network.user_subnets, c.network.user_subnet_prefix, most)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['network', field], message });
  }
}

/** Names used in layers and presets must be declared; reported at their field path. */
function checkReferences(
  c: {
    mounts: Record<string, unknown>;
    presets: Record<string, { mounts?: string[] | undefined }>;
    gpus: { inventory: { id: string }[] };
    network: { ip_aliases: string[] };
    defaults: PolicyLayer;
    groups: Record<string, PolicyLayer>;
    users: Record<string, PolicyLayer>;
  },
  ctx: z.RefinementCtx,
): void {
  const bad = (path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  const mountNames = Object.keys(c.mounts);
  const gpuIds = c.gpus.inventory.map((g) => g.id);
  const seen = new Set<string>();
  c.gpus.inventory.forEach((g, i) => {
    if (seen.has(g.id)) bad(['gpus', 'inventory', i, 'id'], `GPU id "${g.id}" is declared twice`);
    seen.add(g.id);
  });
  const oneOf = (names: string[]) => (names.length ? `one of ${names.join(', ')}` : 'none are declared');
  for (const [p, preset] of Object.entries(c.presets)) {
    (preset.mounts ?? []).forEach(
      (m, i) => mountNames.includes(m) || bad(['presets', p, 'mounts', i], `unknown mount "${m}": ${oneOf(mountNames)}`),
    );
  }
  const layers: [(string | number)[], PolicyLayer][] = [
    [['defaults'], c.defaults],
    ...Object.entries(c.groups).map(([g, l]): [(string | number)[], PolicyLayer] => [['groups', g], l]),
    ...Object.entries(c.users).map(([u, l]): [(string | number)[], PolicyLayer] => [['users', u], l]),
  ];
  for (const [at, l] of layers) {
    (l.presets ?? []).forEach(
      (p, i) => p in c.presets || bad([...at, 'presets', i], `unknown preset "${p}": ${oneOf(Object.keys(c.presets))}`),
    );
    for (const k of ['always', 'allow', 'deny'] as const) {
      (l.mounts?.[k] ?? []).forEach(
        (m, i) => mountNames.includes(m) || bad([...at, 'mounts', k, i], `unknown mount "${m}": ${oneOf(mountNames)}`),
      );
    }
    for (const k of ['allow', 'deny'] as const) {
      (l.gpus?.[k] ?? []).forEach((g, i) => gpuIds.includes(g) || bad([...at, 'gpus', k, i], `unknown GPU "${g}": ${oneOf(gpuIds)}`));
    }
    (l.ports?.ip_aliases ?? []).forEach(
      (ip, i) =>
        c.network.ip_aliases.includes(ip) ||
        bad([...at, 'ports', 'ip_aliases', i], `${ip} is not in network.ip_aliases (${c.network.ip_aliases.join(', ')})`),
    );
  }
}

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
  /** Leave DCM_STATE_DIR / DCM_CONFIG alone (a door running for a user under sudo). */
  ignoreEnv?: boolean;
}

/** The configuration file a program uses: its flag, else DCM_CONFIG if set and not empty (unless the environment is not trusted), else the default. */
export function configFileOf(src: ConfigSource): string {
  return src.configFile ?? ((src.ignoreEnv ? undefined : process.env.DCM_CONFIG) || DEFAULT_CONFIG_FILE);
}

/** Load and validate; throws DcmError('config') naming file and field path. */
export function loadConfig(src: ConfigSource = {}): Config {
  const file = configFileOf(src);
  const doc = parseConfigText(readConfigText(file));
  if (doc.errors.length) throw new DcmError('config', `${file}: ${doc.errors[0]}${more(doc.errors.length - 1)}`);
  return resolveConfig(doc.raw, stateDirOf(src), file);
}

/** The tail of a one-line error that stands for several problems. */
const more = (n: number) => (n > 0 ? ` (and ${n} more: dcm-admin policy check lists them all)` : '');

/** What a file with no document says: empty (or only comments) is not "no policy". */
const EMPTY_CONFIG = 'the configuration is empty (a file being rewritten?): write {} for the built-in defaults';

/** YAML text → document, with every syntax error as one line; a file with no document at all is an error too. */
export function parseConfigText(text: string): { raw: unknown; errors: string[] } {
  const doc = parseDocument(text);
  const errors = doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0]}`);
  if (!errors.length && doc.contents === null) errors.push(EMPTY_CONFIG);
  return { raw: errors.length ? undefined : (doc.toJS() ?? {}), errors };
}

/**
 * Every problem in a parsed document: the field's dotted path and what is
 * allowed there, in file order; empty when it is valid. Cross-references (unknown mounts, presets,
 * GPUs) are checked once the structure is valid.
 */
export function configIssues(raw: unknown): { field: string; message: string }[] {
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return [];
  return parsed.error.issues.map((i) => ({ field: i.path.length ? i.path.join('.') : '(top level)', message: i.message }));
}

/** Validate an already-parsed document (used by tests and `policy check`). */
export function resolveConfig(raw: unknown, stateDir: string, file: string | null): Config {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = configIssues(raw);
    throw new DcmError('config', `${file ?? 'config'}: ${issues[0]!.field}: ${issues[0]!.message}${more(issues.length - 1)}`);
  }
  const c = parsed.data;
  return {
    host: c.host,
    instance: c.instance,
    default_image: c.default_image,
    network: c.network,
    engine: c.engine,
    server: c.server,
    openssh: c.openssh,
    mount_probe_timeout: c.mount_probe_timeout,
    mounts: c.mounts,
    presets: c.presets,
    gpus: c.gpus,
    defaults: c.defaults,
    groups: c.groups,
    users: c.users,
    stateDir,
    configFile: file,
    dbFile: dbFileOf(stateDir),
    storageDir: c.storage.dir ?? join(stateDir, 'storage'),
    initScript: c.init_script ?? join(PACKAGE_ROOT, 'images', 'dcm-init.sh'),
    uidRange: c.storage.uid_range,
  };
}
