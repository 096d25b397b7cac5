/** The subcommands of dcm-admin: base images, users, reconcile, status, policy, backup and restore. */
import { LEGACY_NOTE, reconcile, type ReconcileReport } from '../../src/manager/reconcile.js';
import { repairedCount } from '../../src/manager/reconcile-at-start.js';
import { imagesTable, table } from '../../src/shell/render.js';
import { list, str } from '../../src/shell/command.js';
import { DcmError, EXIT } from '../../src/errors.js';
import type { AdminTool } from './admin-cli.js';
import { openssh } from './openssh.js';
import { backup, restore } from './backup-restore.js';
import { configFileOf } from '../../src/config.js';
import { stateDirOf } from '../../src/paths.js';
import { checkUserName } from '../../src/names.js';
import { effectivePolicy } from '../../src/policy/effective.js';
import { policyRows } from '../../src/policy/policy-report.js';
import { engineRemapOrNone } from '../../src/manager/engine-userns.js';
import type { Config } from '../../src/config.js';

const imagesAdd: AdminTool = {
  name: 'dcm-admin images add',
  summary: 'Register an image that is in the local engine as a base image users may create from.',
  args: { positional: ['REF'], flags: {} },
  async run(app, a) {
    const v = await app.images.addBase(a.positional[0]!);
    return { text: `registered base image ${v.ref} (${v.id.slice(7, 19)})`, json: v };
  },
};

const imagesRm: AdminTool = {
  name: 'dcm-admin images rm',
  summary: 'Unregister a base image (the engine keeps it; running containers are not touched).',
  args: { positional: ['REF'], flags: {} },
  async run(app, a) {
    const r = app.images.removeBase(a.positional[0]!);
    return { text: `unregistered base image ${r.ref}`, json: r };
  },
};

const imagesLs: AdminTool = {
  name: 'dcm-admin images ls',
  summary: 'List base images.',
  args: { positional: [], flags: {} },
  async run(app) {
    const v = await app.images.list(null);
    return { text: imagesTable(v), json: v };
  },
};

const usersLs: AdminTool = {
  name: 'dcm-admin users ls',
  summary: 'List dcm users with their groups, keys, containers and images.',
  args: { positional: [], flags: {} },
  async run(app) {
    const s = app.store;
    const rows = s.users.list().map((u) => ({
      user: u.name,
      uid: u.uid,
      gid: u.gid,
      blocked: u.blocked === 1,
      incomplete: u.addition !== null && u.deletion === null,
      keysHeld: u.keys_unsynced === 1,
      groups: s.users.groups(u.name),
      keys: s.users.keys(u.name).length,
      containers: s.containers.countByOwner(u.name),
      images: s.images.ownedBy(u.name).length,
    }));
    const text = rows.length
      ? table(
          ['USER', 'UID', 'GROUPS', 'KEYS', 'CONTAINERS', 'IMAGES'],
          rows.map((r) => [
            r.incomplete
              ? `${r.user} (incomplete: dcm-useradd did not finish; dcm-admin reconcile finishes it)`
              : r.blocked
                ? `${r.user} (blocked: run dcm-userdel again)`
                : r.keysHeld
                  ? `${r.user} (held: repair .ssh, then users key ${r.user} --sync)`
                  : r.user,
            String(r.uid),
            r.groups.join(',') || '-',
            String(r.keys),
            String(r.containers),
            String(r.images),
          ]),
        )
      : 'no users (add one with dcm-useradd)';
    return { text, json: rows };
  },
};

const usersKey: AdminTool = {
  name: 'dcm-admin users key',
  summary:
    "Add, revoke (--rm) or replace (--set) a user's public keys, in dcm's logins and the storage's authorized_keys; alone, list them.",
  details: [
    'dcm owns the key lines it installs in <storage>/<user>/{root,home}/.ssh/authorized_keys:',
    '--key adds a line (other lines stay); --rm removes every line carrying that key;',
    '--set makes both files hold exactly the given keys (lines added by anyone else go too).',
    'An added key is made in both files and the database, or in none. A revocation (--rm, --set) always',
    "takes effect in dcm logins; if the files refuse it (e.g. a link planted in .ssh), the user's containers",
    'are stopped and cannot be created or started until the planted entry is removed and --sync succeeds.',
    'A revocation does not end sessions already open inside running containers: stop them if the key leaked.',
  ].join('\n'),
  args: {
    positional: ['NAME'],
    flags: {
      key: { type: 'list', short: 'k', value: 'FILE|KEYTEXT', help: 'add a public key file or key line (repeatable)' },
      rm: { type: 'list', value: 'FINGERPRINT', help: 'revoke the key with this fingerprint, e.g. SHA256:… (repeatable)' },
      set: { type: 'string', value: 'FILE|KEYTEXT', help: 'replace all keys with the keys in FILE' },
      sync: {
        type: 'bool',
        help: "rewrite both authorized_keys files to hold exactly the user's keys in dcm (after a refused --rm/--set)",
      },
    },
  },
  async run(app, a) {
    const { readKeyArg } = await import('./useradd.js');
    const um = app.users;
    const remap = await engineRemapOrNone(app.engine); // storage owners in the engine's user namespace mode
    const name = um.get(a.positional[0]!).name;
    const adds = list(a.flags.key);
    const rms = list(a.flags.rm);
    const set = str(a.flags.set);
    const sync = a.flags.sync === true;
    if ([adds.length > 0, rms.length > 0, set !== undefined, sync].filter(Boolean).length > 1) {
      throw new DcmError('usage', 'dcm-admin users key: use one of --key, --rm, --set and --sync at a time');
    }
    const lines: string[] = [];
    if (adds.length) {
      for (const k of um.addKeys(name, adds.flatMap(readKeyArg), remap)) lines.push(`added key ${k.algo} ${k.fingerprint}`);
    } else if (rms.length) {
      for (const k of await um.removeKeys(name, rms, remap)) lines.push(`revoked key ${k.algo} ${k.fingerprint}`);
    } else if (set !== undefined) {
      await um.setKeys(name, readKeyArg(set), remap);
      lines.push(`${name} now has exactly these keys:`);
    } else if (sync) {
      um.syncKeys(name, remap);
      lines.push(`${name}'s authorized_keys files now hold exactly these keys:`);
    }
    const keys = app.store.users.keys(name).map((k) => ({ algo: k.algo, fingerprint: k.fingerprint, comment: k.comment }));
    if (!adds.length && !rms.length)
      lines.push(
        ...(keys.length ? keys.map((k) => `  ${k.algo} ${k.fingerprint}${k.comment ? ` ${k.comment}` : ''}`) : [`${name} has no keys`]),
      );
    return { text: lines.join('\n'), json: { user: name, keys } };
  },
};

const usersGroup: AdminTool = {
  name: 'dcm-admin users group',
  summary: 'Add a user to, or remove them from, dcm groups.',
  args: {
    positional: ['NAME'],
    flags: {
      add: { type: 'list', value: 'GROUP', help: 'add to this group (repeatable)' },
      rm: { type: 'list', value: 'GROUP', help: 'remove from this group (repeatable)' },
    },
  },
  async run(app, a) {
    const um = app.users;
    const name = um.get(a.positional[0]!).name;
    app.store.tx(() => {
      for (const g of list(a.flags.add)) app.store.users.addToGroup(name, g);
      for (const g of list(a.flags.rm)) app.store.users.removeFromGroup(name, g);
    });
    const groups = app.store.users.groups(name);
    return { text: `${name}: ${groups.join(', ') || 'no groups'}`, json: { user: name, groups } };
  },
};

/** The lists of a reconcile report that name what was repaired (legacy objects are left alone). */
type RepairedList = Exclude<
  { [K in keyof ReconcileReport]: ReconcileReport[K] extends unknown[] ? K : never }[keyof ReconcileReport],
  'legacyLeftAlone' | 'networksNotRemoved'
>;

/** How `dcm-admin reconcile` names each, in the order it prints them: a list added to the report must be named here. */
const REPAIRED: Record<RepairedList, string> = {
  rowsWithoutContainer: 'rows without a container',
  containersWithoutRow: 'containers without a row',
  staleReservations: 'interrupted creates/removes',
  imagesWithoutEngineImage: 'image rows without an image',
  imagesWithoutRow: 'images without a row',
  imagesRetagged: 'image rows without their tag',
  usersDeleted: 'users whose dcm-userdel died',
  usersAdded: 'users whose dcm-useradd died (finished)',
  usersAddUndone: 'users whose dcm-useradd died and whose storage refused (removed: add them again)',
  networksRemoved: "users' networks no user needs",
  networksRecorded: "users' networks whose maker died before recording them",
  restartPolicySet: 'containers without the restart policy unless-stopped',
};

const reconcileCmd: AdminTool = {
  name: 'dcm-admin reconcile',
  summary:
    "Repair what a crash left: rows without containers, containers without rows, creates/removes/commits/starts/useradds/userdels whose process died (at once) or stalled, users' networks no one needs, stale reservations (only this installation's objects; unlabelled legacy ones are reported).",
  args: { positional: [], flags: { 'dry-run': { type: 'bool', short: 'n', help: 'report only, change nothing' } } },
  async run(app, a) {
    const r = await reconcile(app, { dryRun: a.flags['dry-run'] === true });
    const verb = r.dryRun ? 'would repair' : 'repaired';
    const lines = [
      ...Object.entries(REPAIRED).flatMap(([k, label]) => {
        const v = r[k as RepairedList];
        const shown = k === 'containersWithoutRow' ? v.map((i) => String(i).slice(0, 12)) : v;
        return v.length ? [`${verb} ${v.length} ${label}: ${shown.join(', ')}`] : [];
      }),
      ...(r.deadClaims ? [`${verb} ${r.deadClaims} start/commit claims of processes that died`] : []),
      ...r.networksNotRemoved.map((n) => `network not removed (tried again at the next reconcile): ${n}`),
      ...r.legacyLeftAlone.map((o) => `${LEGACY_NOTE}: ${o}`),
    ];
    const text = repairedCount(r) ? lines.join('\n') : ['nothing to repair', ...lines].join('\n');
    return { text, json: r };
  },
};

const status: AdminTool = {
  name: 'dcm-admin status',
  summary: 'Engine, database and usage at a glance.',
  args: { positional: [], flags: {} },
  async run(app) {
    const s = app.store;
    let engine = 'ok';
    try {
      await app.engine.ping();
    } catch {
      engine = 'unavailable';
    }
    const c = app.config;
    const json = {
      engine,
      database: c.dbFile,
      config: c.configFile ?? '(defaults)',
      instance: c.instance,
      installation: s.installation.id,
      users: s.users.list().length,
      containers: s.containers.all().length,
      ports: s.containers.allPorts().length,
      baseImages: s.images.bases().map((i) => i.ref),
      sshPorts: `${c.network.ssh_ports.lo}-${c.network.ssh_ports.hi}`,
      ipAliases: c.network.ip_aliases,
    };
    const text = Object.entries(json)
      .map(([k, v]) => `${k.padEnd(11)} ${Array.isArray(v) ? v.join(', ') || '-' : v}`)
      .join('\n');
    return { text, json };
  },
};

const policyShow: AdminTool = {
  name: 'dcm-admin policy show',
  summary: 'Print the effective policy of a user, with the layer each value came from.',
  details:
    'Layers: built-in, defaults, groups.<g> (in name order), users.<u>. Scalars: the most specific wins;\nallow lists accumulate; deny lists accumulate and always win.',
  args: { positional: ['USER'], flags: {} },
  async run(app, a) {
    const name = checkUserName(a.positional[0]!);
    const known = app.store.users.get(name) !== undefined;
    const groups = app.store.users.groups(name);
    const pol = effectivePolicy(app.config, name, groups);
    const rows = policyRows(pol);
    const head = `policy for ${name}${known ? '' : ' (not a dcm user yet)'}, groups: ${groups.join(', ') || '-'}, from ${app.config.configFile ?? '(built-in defaults)'}`;
    return {
      text: [
        head,
        table(
          ['FIELD', 'VALUE', 'FROM'],
          rows.map((r) => [r.field, r.value, r.from]),
        ),
      ].join('\n'),
      json: { user: name, groups, rows, policy: pol },
    };
  },
};

const policyCheck: AdminTool = {
  name: 'dcm-admin policy check',
  summary: 'Validate a configuration file (default: the one in use) without changing anything.',
  details:
    'Lists every problem, one line each (exit 7 if any is an error); warnings do not fail the check.\nA rw mount on a filesystem without nosuid is an error unless the engine remaps users (userns-remap);\na rw mount offered to a layer whose users log in as root is a warning.',
  args: { positional: ['FILE?'], flags: {} },
  async runAlone(src, a) {
    const { findingLine, POLICY_CHECKERS } = await import('../../src/policy/policy-check.js');
    const { checkPolicyFile } = await import('../../src/policy-io/policy-check-file.js');
    const { engineRemapOrNone, rwMountProblems } = await import('../../src/manager/engine-userns.js');
    const { DockerEngine } = await import('../../src/engine/docker-engine.js');
    // rw mounts on filesystems that honour setuid: refused unless the file's engine remaps users (an engine that is down counts as not).
    const rwMounts = async (c: Config) =>
      rwMountProblems(c, await engineRemapOrNone(new DockerEngine(c.engine.socket)), c.mount_probe_timeout * 1000);
    const r = await checkPolicyFile(a.positional[0] ?? configFileOf(src), stateDirOf(src), [rwMounts, ...POLICY_CHECKERS]);
    const errors = r.findings.filter((f) => f.level === 'error');
    const warnings = r.findings.filter((f) => f.level === 'warning');
    const stderr = r.findings.map((f) => `dcm-admin policy check: ${findingLine(r.file, f)}\n`).join('');
    const c = r.config;
    const counts = c
      ? {
          groups: Object.keys(c.groups).length,
          users: Object.keys(c.users).length,
          presets: Object.keys(c.presets).length,
          mounts: Object.keys(c.mounts).length,
          gpus: c.gpus.inventory.length,
        }
      : {};
    const ok = errors.length === 0;
    const text = ok
      ? `${r.file}: ok (${Object.entries(counts)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')})${warnings.length ? `, ${warnings.length} warning(s)` : ''}`
      : '';
    return { text, stderr, code: ok ? 0 : EXIT.config, json: { ok, file: r.file, errors, warnings, ...counts } };
  },
};

export const ADMIN_COMMANDS: AdminTool[] = [
  imagesAdd,
  imagesRm,
  imagesLs,
  usersLs,
  usersKey,
  usersGroup,
  reconcileCmd,
  status,
  policyShow,
  policyCheck,
  backup,
  restore,
  openssh,
];
