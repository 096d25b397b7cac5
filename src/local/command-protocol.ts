/**
 * The local command socket's protocol: JSON lines. A door process (dcm,
 * dcm-shell) that would otherwise load the whole program for a single command
 * sends one line, the facts its identity rules need and the command, and
 * keeps its side open; dcm-server decides the identity with the same rules,
 * runs the command and answers in frames, one JSON object a line, as the
 * output comes: {"out":TEXT} (stdout), {"err":LINE} and {"progress":LINE}
 * (stderr), {"o":BASE64} and {"e":BASE64} (bytes a process in a container
 * printed on its stdout or stderr: an attached job or exec), {"alive":1}
 * while a long command is quiet, and {"code":N} last.
 * The door closing its side means it has gone: a command that runs until
 * stopped (logs -f) ends then.
 *
 * Input flows only when a command asks for it (run, attach, exec): the server
 * sends {"stdin":{"raw":BOOL}}, and the door then sends its stdin as
 * {"in":BASE64} frames (its terminal raw when asked), {"eof":1} at its end,
 * and {"size":[COLS,ROWS]} when its window changes, until {"stdin":null}.
 * The request says whether the door has a terminal, and its size.
 *
 * Which socket the door could open says who it is (paths.ts): on the root
 * socket the facts are root's word; on the service account's socket the
 * server takes the account from the socket and reads only --user,
 * SSH_CONNECTION and SUDO_USER from the facts.
 */
export const PROTOCOL_VERSION = 2;
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

/** The door's terminal size, [columns, rows]; absent or null: no terminal. */
export type TermFact = [number, number] | null;

export type CommandRequest =
  | { v: number; door: 'local'; facts: DoorFacts; words: string[]; tty?: TermFact }
  | { v: number; door: 'shell'; facts: DoorFacts; command: string; tty?: TermFact };

/** One line of the server's answer. */
export type ReplyFrame =
  | { out: string }
  | { err: string }
  | { progress: string }
  | { o: string }
  | { e: string }
  | { stdin: { raw: boolean } | null }
  | { alive: 1 }
  | { code: number };

/** One line the door sends after its request, once the server asked for input. */
export type InputFrame = { in: string } | { eof: 1 } | { size: [number, number] };

/** Most input bytes in one {"in":…} frame. */
export const MAX_IN_FRAME_BYTES = 16 * 1024;

/** Most text in one {"out":…} frame: a door never holds more than about this much of one line. */
export const MAX_OUT_FRAME_CHARS = 16 * 1024;
/** How often a frame goes out while a command prints nothing, so that a door can tell a quiet command from a hung server. */
export const ALIVE_MS = 60 * 1000;

/** Version 1's whole answer, one JSON object after the command ended: still what a version-1 door is answered in. */
export interface ReplyV1 {
  code: number;
  stdout: string;
  stderr: string;
}

/** What a door and a server of different versions are told. */
export function versionMismatch(door: unknown): string {
  return `dcm and dcm-server are different versions (command socket protocol ${typeof door === 'number' ? door : 'unknown'} here, ${PROTOCOL_VERSION} in dcm-server): restart dcm-server after an upgrade`;
}
