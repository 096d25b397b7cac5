/** Looking up host (Unix) accounts through getent, so NSS sources count too. */
import { execFileSync } from 'node:child_process';

/** The passwd fields dcm uses. */
export interface HostUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export function userInfoOf(name: string): HostUser | null {
  try {
    const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const f = line.split(':');
    return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
  } catch {
    return null;
  }
}
