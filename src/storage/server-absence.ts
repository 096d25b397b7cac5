/**
 * The refusal a door running as an account other than root gives when a
 * command must check the root-only storage (verify-binds.ts): only dcm-server
 * (root) can. The door notes why it had no server to hand the command to, so
 * the line says what happened: "not running" only when nothing listened, and
 * otherwise that this account could not use the server's socket.
 *
 * Kept for the process: one door process serves one caller, and notes the
 * reason again before each command it runs itself.
 */
import { DcmError } from '../errors.js';

export type ServerAbsence = 'not-running' | 'no-access';

let absence: ServerAbsence = 'not-running';

export function noteServerAbsence(why: ServerAbsence): void {
  absence = why;
}

/** For a storage path this process was not allowed to open. */
export function needsServerError(path: string): DcmError {
  const uid = process.geteuid?.();
  return absence === 'not-running'
    ? new DcmError(
        'unavailable',
        'this command needs dcm-server, which is not running: ask the administrator to start it',
        `${path}: permission denied to uid ${uid}: storage binds are checked as root (run dcm-server, which serves this door)`,
      )
    : new DcmError(
        'unavailable',
        'this command needs dcm-server, and this account could not use its command socket: ask the administrator',
        `${path}: permission denied to uid ${uid}: storage binds are checked as root, and this door could not use dcm-server's service socket (is openssh.service_account this account, and was dcm-server restarted after it changed?)`,
      );
}
