/** dcm-useradd NAME --key FILE|KEYTEXT [--key ...] [--group G ...] */
import { readFileSync, existsSync } from 'node:fs';
import { DcmError } from '../../src/errors.js';
import { engineRemapOrNone } from '../../src/manager/engine-userns.js';
import { list } from '../../src/shell/command.js';
import type { AdminTool } from './admin-cli.js';
import type { UserManager } from '../../src/manager/user-manager.js';
import { checkUserName } from '../../src/names.js';
import { keyLine, parsePublicKey } from '../../src/ssh-keys.js';
import { ensureSystemAccount, undoSystemAccount, type SystemAccountReport } from './system-account.js';

/** A --key value is either key text ("ssh-ed25519 AAAA…") or a file of key lines. */
export function readKeyArg(v: string): string[] {
  if (/^(ssh-|ecdsa-|sk-)/.test(v.trim())) return [v.trim()];
  if (!existsSync(v)) throw new DcmError('invalid', `--key ${v}: no such file, and not a public key line`);
  const lines = readFileSync(v, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (lines.length === 0) throw new DcmError('invalid', `--key ${v}: the file holds no key`);
  return lines;
}

export const useradd: AdminTool = {
  name: 'dcm-useradd',
  summary: 'Add a dcm user: database row, SSH keys, groups and storage (root/ and home/ with the keys installed).',
  details: [
    'A host account of the same name lends its uid/gid; otherwise one is taken from storage.uid_range.',
    'The user can log in only once the storage and keys are in place; if dcm-useradd dies before,',
    'dcm-admin reconcile (and every dcm-server start) finishes the user from the database.',
  ].join('\n'),
  args: {
    positional: ['NAME'],
    flags: {
      key: { type: 'list', short: 'k', value: 'FILE|KEYTEXT', help: 'public key file or key line (repeatable; at least one)' },
      group: { type: 'list', short: 'g', value: 'GROUP', help: 'dcm group for policy (repeatable)' },
      system: { type: 'bool', help: 'also make the host account (in the openssh group, keys installed) for the OpenSSH + sudo way in' },
    },
  },
  async run(app, a) {
    const keys = list(a.flags.key).flatMap(readKeyArg);
    // The host account comes first so that it lends its uid/gid to the dcm user.
    let sys: SystemAccountReport | null = null;
    if (a.flags.system)
      sys = ensureSystemAccount(
        checkUserName(a.positional[0]!),
        app.config.openssh.group,
        keys.map((k) => keyLine(parsePublicKey(k))),
      );
    let r: ReturnType<UserManager['add']>;
    try {
      r = app.users.add({ name: a.positional[0]!, keys, groups: list(a.flags.group) }, await engineRemapOrNone(app.engine));
    } catch (e) {
      if (sys) undoSystemAccount(sys);
      throw e;
    }
    const text = [
      `added ${r.user.name} (uid ${r.user.uid}, gid ${r.user.gid})${r.groups.length ? ` in ${r.groups.join(', ')}` : ''}`,
      ...r.keys.map((k) => `  key ${k.algo} ${k.fingerprint}${k.comment ? ` ${k.comment}` : ''}`),
      `  storage ${r.storage.root} -> /root, ${r.storage.home} -> /home/${r.user.name}`,
      ...(sys
        ? [
            `  host account ${sys.name} (${sys.created ? 'created' : 'existing'}) in group ${sys.group}, keys in ${sys.home}/.ssh/authorized_keys`,
          ]
        : []),
    ].join('\n');
    return {
      text,
      json: {
        user: r.user.name,
        uid: r.user.uid,
        gid: r.user.gid,
        groups: r.groups,
        keys: r.keys.map((k) => ({ algo: k.algo, fingerprint: k.fingerprint })),
        storage: r.storage,
        system: sys,
      },
    };
  },
};
