/**
 * Reading the configuration file. Every way it can fail is one line naming the
 * file and the reason, so that no door ever falls back to built-in defaults
 * because the file was missing, unreadable or not a file at all.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { DcmError } from './errors.js';

/** A policy file is small; a bigger one is a mistake (or /dev/zero), not a policy. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the path is too long',
  EIO: 'input/output error',
};

export function readConfigText(file: string): string {
  let fd: number;
  try {
    // Non-blocking, so a FIFO put in the file's place cannot hang every door.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOENT') {
      throw new DcmError(
        'config',
        `${file}: no configuration file (dcm does not run without one; a file holding {} means the built-in defaults)`,
      );
    }
    throw new DcmError('config', `${file}: cannot read the configuration: ${REASONS[code] ?? code}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new DcmError('config', `${file}: cannot read the configuration: ${REASONS.EISDIR}`);
    if (!st.isFile()) throw new DcmError('config', `${file}: cannot read the configuration: not a regular file`);
    if (st.size > MAX_CONFIG_BYTES)
      throw new DcmError('config', `${file}: cannot read the configuration: larger than ${MAX_CONFIG_BYTES >> 20} MiB`);
    return readFileSync(fd, 'utf8');
  } catch (e) {
    if (e instanceof DcmError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new DcmError('config', `${file}: cannot read the configuration: ${REASONS[code] ?? code}`);
  } finally {
    closeSync(fd);
  }
}
