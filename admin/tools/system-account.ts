/**
 * Host accounts for the sudo way in: `dcm-useradd --system NAME` makes (or
 * reuses) a Unix account NAME in the dcm group, so that sshd's
 * `Match Group dcm-users` + `ForceCommand sudo -n dcm-shell` applies to it, and
 * installs the user's keys in its ~/.ssh/authorized_keys. The password field
 * is "*" (no password, not locked) so key logins work with or without PAM.
 *
 * An existing account's home belongs to that user, who may have made ~/.ssh a
 * link to somewhere only root can write; keys are therefore merged in through
 * no-follow descriptors, never by path.
 */
import { execFileSync } from 'node:child_process';
import { userInfoOf } from './host-users.js';
import { openTrustedDir, withFd } from '../../src/storage/no-follow.js';
import { installKeys } from '../../src/storage/user-dirs.js';

/** What ensureSystemAccount did, so a failed useradd can undo it. */
export interface SystemAccountReport {
  name: string;
  group: string;
  created: boolean;
  home: string;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });

export function ensureSystemAccount(name: string, group: string, keyLines: string[]): SystemAccountReport {
  run('groupadd', ['-f', group]);
  let info = userInfoOf(name);
  const created = !info;
  if (!info) {
    run('useradd', ['--create-home', '--shell', '/bin/sh', '--password', '*', '--groups', group, '--comment', 'dcm user', name]);
    info = userInfoOf(name)!;
  }
  const { uid, gid, home } = info;
  const report = { name, group, created, home };
  try {
    withFd(openTrustedDir(home, null), (homeFd) => installKeys(homeFd, home, uid, gid, keyLines));
  } catch (e) {
    undoSystemAccount(report);
    throw e;
  }
  // An existing account joins the group only once its keys are in place.
  if (!created) run('usermod', ['--append', '--groups', group, name]);
  return report;
}

/** Undo: removes the account only when this run created it. */
export function undoSystemAccount(r: SystemAccountReport): void {
  if (r.created) run('userdel', ['--remove', r.name]);
}
