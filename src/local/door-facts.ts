/**
 * The facts about this process that the doors' identity rules read: ids, the
 * real account's name, and what sudo and sshd set. Nothing the user typed but
 * --user, which the rules judge. Gathered the same way whether the rules run
 * in the door or in dcm-server behind the command socket.
 */
import { userInfo } from 'node:os';
import type { DoorFacts } from './command-protocol.js';

export function gatherDoorFacts(userFlag: string | undefined): DoorFacts {
  return {
    euid: process.geteuid?.() ?? -1,
    ruid: process.getuid?.() ?? -1,
    account: userInfo().username,
    ...(process.env.SUDO_USER ? { sudoUser: process.env.SUDO_USER } : {}),
    ...(process.env.SSH_CONNECTION ? { sshConnection: process.env.SSH_CONNECTION } : {}),
    ...(userFlag !== undefined ? { userFlag } : {}),
  };
}
