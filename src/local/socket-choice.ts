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

/**
 * Why a door has no dcm-server to hand its command to: nothing listens (no
 * socket, or a dead one), or a socket is there but this door may not use it
 * (not this account's, or not laid out as dcm-server lays it out).
 */
export type NoServer = 'not-running' | 'no-access';

/** The socket this door may use, or why there is none. */
export function socketChoice(stateDir: string, euid: number): { path: string } | { why: NoServer } {
  const path = euid === 0 ? rootSocketPath(stateDir) : serviceSocketPath(stateDir);
  const rootDir = (st: Stats, others: number) => st.isDirectory() && st.uid === 0 && (st.mode & others) === 0;
  const look = (p: string): Stats | null => {
    try {
      return lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  };
  try {
    const dir = look(socketDir(stateDir));
    if (!dir) return { why: 'not-running' }; // no server has made it: run here
    if (!rootDir(dir, 0o022)) return { why: 'no-access' };
    if (euid === 0) {
      const own = look(dirname(path));
      if (!own) return { why: 'not-running' };
      if (!rootDir(own, 0o077)) return { why: 'no-access' };
    }
    const sock = look(path);
    if (!sock) return { why: 'not-running' };
    return sock.isSocket() && sock.uid === euid ? { path } : { why: 'no-access' };
  } catch {
    return { why: 'no-access' }; // cannot even look (EACCES on the state directory)
  }
}
