/**
 * The local command socket's protocol: one JSON line each way. A door process
 * (dcm, dcm-shell) that would otherwise load the whole program for a single
 * command sends the facts its identity rules need and the command; dcm-server
 * decides the identity with the same rules, runs the command and answers.
 *
 * Which socket the door could open says who it is (paths.ts): on the root
 * socket the facts are root's word; on the service account's socket the
 * server takes the account from the socket and reads only --user,
 * SSH_CONNECTION and SUDO_USER from the facts.
 */
export const PROTOCOL_VERSION = 1;
/** A request larger than this is refused unread. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** What the door knows about its caller, gathered exactly as the in-process door gathers it. */
export interface DoorFacts {
  euid: number;
  ruid: number;
  /** Account name of the real uid. */
  account: string;
  sudoUser?: string;
  sshConnection?: string;
  userFlag?: string;
}

export type CommandRequest =
  | { v: number; door: 'local'; facts: DoorFacts; words: string[] }
  | { v: number; door: 'shell'; facts: DoorFacts; command: string };

export interface CommandReply {
  code: number;
  stdout: string;
  stderr: string;
}
