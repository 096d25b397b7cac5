/**
 * Who is calling dcm-shell, the forced command behind the host's OpenSSH.
 * Two ways in, and nothing the logged-in user can set decides it:
 *
 * 1. sudo (`Match Group dcm-users` + `ForceCommand sudo -n dcm-shell`): the
 *    process runs as root and sudo has set SUDO_USER to the invoking account;
 *    that is the identity, and --user is refused. SUDO_USER without root is
 *    refused: anyone can set the variable, only sudo can also make us root.
 * 2. service account (one `restrict,pty,command="dcm-shell --user NAME"` line
 *    per key in the service account's authorized_keys): --user is accepted only
 *    when the real and effective uid are the configured service account's,
 *    SUDO_USER is unset, and SSH_CONNECTION shows that sshd started us. The
 *    user's own words arrive in SSH_ORIGINAL_COMMAND, never on our command line.
 */
import { DcmError } from '../errors.js';
import { checkUserName } from '../names.js';
import type { DoorFacts } from '../local/command-protocol.js';

/** The facts the decision is made from (gathered by the caller, so it is testable). */
export interface ShellIdentityInput extends DoorFacts {
  /** config openssh.service_account; read only when --user is given (so sudo mode needs no config yet). */
  serviceAccount: () => string;
}

export function shellIdentity(i: ShellIdentityInput): string {
  if (i.sudoUser) {
    if (i.euid !== 0) throw new DcmError('denied', 'SUDO_USER is set but dcm-shell is not running as root: start it through sudo');
    if (i.userFlag !== undefined) throw new DcmError('denied', '--user is not allowed under sudo: you act as yourself');
    if (i.sudoUser === 'root') throw new DcmError('denied', 'root is not a dcm user (admins use dcm --user NAME)');
    return checkUserName(i.sudoUser);
  }
  if (i.userFlag !== undefined) {
    const service = i.serviceAccount();
    if (i.account !== service || i.ruid !== i.euid) {
      throw new DcmError('denied', `--user is accepted only on the forced-command line of the service account "${service}"`);
    }
    if (!i.sshConnection)
      throw new DcmError('denied', '--user is accepted only when sshd runs dcm-shell as a forced command (no SSH_CONNECTION)');
    return checkUserName(i.userFlag);
  }
  throw new DcmError(
    'denied',
    "dcm-shell does not know who you are: it runs through sudo (ForceCommand) or as the service account's forced command with --user",
  );
}
