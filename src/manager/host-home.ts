/**
 * The host home directory of a dcm user, for mount sources that start with
 * {home}: that of the host account of the same name, and only when it has the
 * same uid as the dcm user (an account made after the dcm user, with other
 * ids, is another person as far as dcm knows). Through getent, so that NSS
 * sources (LDAP, sssd) count too.
 */
import { execFileSync } from 'node:child_process';

export function hostHome(name: string, uid: number): string | null {
  try {
    const f = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })
      .trim()
      .split(':');
    if (f[0] !== name || Number(f[2]) !== uid || !f[5]) return null;
    // A trailing slash is the same directory; anything odder is refused by the template's own checks.
    return f[5].length > 1 ? f[5].replace(/\/+$/, '') : f[5];
  } catch {
    return null;
  }
}
