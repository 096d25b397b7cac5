/**
 * Who is calling the local door. Under sudo it is SUDO_USER and --user is
 * refused (a user must never choose their identity); as root without sudo an
 * admin names the user with --user.
 */
import { DcmError } from '../errors.js';
import { checkUserName } from '../names.js';

export interface IdentityInput {
  euid: number;
  sudoUser?: string;
  userFlag?: string;
}

export function localIdentity(i: IdentityInput): string {
  if (i.euid !== 0) throw new DcmError('denied', 'dcm needs root: run it through sudo (sudo dcm ...)');
  if (i.sudoUser && i.sudoUser !== 'root') {
    if (i.userFlag !== undefined) throw new DcmError('denied', '--user is not allowed under sudo: you act as yourself');
    return checkUserName(i.sudoUser);
  }
  if (i.userFlag === undefined) throw new DcmError('usage', 'as root, name the user with --user NAME (users run "sudo dcm ...")');
  return checkUserName(i.userFlag);
}
