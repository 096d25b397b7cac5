/**
 * The directories dcm-server's command sockets live in (paths.ts): made, or
 * checked and tightened, before the sockets are bound. The state directory
 * may be writable by the service account's group, so a directory there that
 * is not root's (or a link) is never used: it is refused with one line.
 */
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { DcmError } from '../errors.js';
import { legacySocketPath, rootSocketPath, socketDir } from '../paths.js';

export function prepareSocketDirs(stateDir: string): void {
  rootOnlyDir(socketDir(stateDir), 0o711);
  rootOnlyDir(dirname(rootSocketPath(stateDir)), 0o700);
  // A socket an older dcm-server left where any member of the group could connect.
  const legacy = legacySocketPath(stateDir);
  try {
    if (lstatSync(legacy).isSocket()) unlinkSync(legacy);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** A real directory owned by root with exactly `mode`, reached without following a link. */
function rootOnlyDir(path: string, mode: number): void {
  try {
    mkdirSync(path, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (e) {
    throw new DcmError(
      'config',
      `${path} is not a directory (${(e as NodeJS.ErrnoException).code}): remove it so dcm-server can make its command sockets there`,
    );
  }
  try {
    const st = fstatSync(fd);
    if (st.uid !== 0)
      throw new DcmError(
        'config',
        `${path} belongs to uid ${st.uid}, not root: remove it so dcm-server can make its command sockets there`,
      );
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
