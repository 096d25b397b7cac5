/**
 * Who is calling the local door. Under sudo it is SUDO_USER and --user is
 * refused (a user must never choose their identity); as root without sudo an
 * admin names the user with --user.
 */
import type { ConfigSource } from '../config.js';
import { DcmError } from '../errors.js';
import { checkUserName } from '../names.js';

export interface IdentityInput {
  euid: number;
  sudoUser?: string;
  userFlag?: string;
}

/** The user sudo ran us for; null without sudo or for sudo to root (an admin acting as root). */
const sudoCaller = (i: IdentityInput): string | null => (i.sudoUser && i.sudoUser !== 'root' ? i.sudoUser : null);

export function localIdentity(i: IdentityInput): string {
  if (i.euid !== 0) throw new DcmError('denied', 'dcm needs root: run it through sudo (sudo dcm ...)');
  const caller = sudoCaller(i);
  if (caller !== null) {
    if (i.userFlag !== undefined) throw new DcmError('denied', '--user is not allowed under sudo: you act as yourself');
    return checkUserName(caller);
  }
  if (i.userFlag === undefined) throw new DcmError('usage', 'as root, name the user with --user NAME (users run "sudo dcm ...")');
  return checkUserName(i.userFlag);
}

/**
 * Where the installation is, for the local door. Under sudo the user typed the
 * command line and may have chosen the environment (sudo -E, SETENV), so a
 * state dir or config of their choosing would let them pick their own policy:
 * the flags are refused and DCM_STATE_DIR / DCM_CONFIG are ignored, and the
 * default installation serves the sudo door.
 */
export function localSource(i: IdentityInput, flags: { stateDir?: string; configFile?: string }): ConfigSource {
  if (sudoCaller(i) === null) return flags;
  const given = flags.stateDir !== undefined ? '--state-dir' : flags.configFile !== undefined ? '--config' : null;
  if (given) throw new DcmError('denied', `${given} is not allowed under sudo: you use the administrator's installation`);
  return { ignoreEnv: true };
}
