/**
 * Which of dcm-server's command sockets a door process may use, if any.
 * Root (sudo, or root itself) uses the root socket; any other account only the
 * service socket, which works only for the service account it belongs to.
 *
 * The server believes the facts a root caller sends, so a root caller must be
 * sure it is talking to dcm-server and not to a socket someone else put in
 * the state directory (which the service account's group may write): it uses
 * the socket only when every directory from <state dir>/run down and the
 * socket itself are root's and no one else could have replaced them.
 * Otherwise the door runs the command itself, as when no server runs.
 */
import { lstatSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { rootSocketPath, serviceSocketPath, socketDir } from '../paths.js';

export function commandSocketFor(stateDir: string, euid: number): string | null {
  const path = euid === 0 ? rootSocketPath(stateDir) : serviceSocketPath(stateDir);
  const rootDir = (st: Stats, others: number) => st.isDirectory() && st.uid === 0 && (st.mode & others) === 0;
  try {
    if (!rootDir(lstatSync(socketDir(stateDir)), 0o022)) return null;
    if (euid === 0 && !rootDir(lstatSync(dirname(path)), 0o077)) return null;
    const sock = lstatSync(path);
    return sock.isSocket() && sock.uid === euid ? path : null;
  } catch {
    return null; // no server has made them: run here
  }
}
