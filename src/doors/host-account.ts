/** A host account's ids, through getent so that NSS sources (LDAP, sssd) count too. */
import { execFileSync } from 'node:child_process';

export function hostAccountIds(name: string): { uid: number; gid: number } | null {
  try {
    const f = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(':');
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    return f[0] === name && Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}
