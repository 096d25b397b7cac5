/**
 * Host accounts for the sudo way in: `dcm-useradd --system NAME` makes (or
 * reuses) a Unix account NAME in the dcm group, so that sshd's
 * `Match Group dcm-users` + `ForceCommand sudo -n dcm-shell` applies to it, and
 * installs the user's keys in its ~/.ssh/authorized_keys. The password field
 * is "*" (no password, not locked) so key logins work with or without PAM.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfoOf } from './host-users.js';

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
  } else {
    run('usermod', ['--append', '--groups', group, name]);
  }
  const ssh = join(info.home, '.ssh');
  if (!existsSync(ssh)) mkdirSync(ssh, { mode: 0o700 });
  chownSync(ssh, info.uid, info.gid);
  const ak = join(ssh, 'authorized_keys');
  writeFileSync(ak, keyLines.join('\n') + '\n', { mode: 0o600 });
  chownSync(ak, info.uid, info.gid);
  return { name, group, created, home: info.home };
}

/** Undo: removes the account only when this run created it. */
export function undoSystemAccount(r: SystemAccountReport): void {
  if (r.created) run('userdel', ['--remove', r.name]);
}
