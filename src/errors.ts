/**
 * One error type for everything a user or admin can be told.
 *
 * `userMessage` is the single line a user sees (never contains another user's
 * data or Docker internals); `adminDetail` carries what an admin needs to debug
 * and goes to logs only.
 */
export type ErrorCode =
  | 'usage'            // bad command line: unknown flag, missing argument
  | 'invalid'          // a value that does not pass validation
  | 'not-found'        // no such container/image/user (also for other users' objects)
  | 'conflict'         // exists already, in use, wrong state
  | 'denied'           // identity or policy refusal
  | 'limit'            // quota or resource limit reached
  | 'unavailable'      // container engine or another dependency down
  | 'config'           // invalid configuration file
  | 'internal';

export class DcmError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly userMessage: string,
    readonly adminDetail?: string,
  ) {
    super(userMessage);
    this.name = 'DcmError';
  }
}

/**
 * Exit codes per error class, so scripts can tell usage errors from refusals
 * (listed in the README): 1 anything else (conflict, wrong state, internal),
 * 2 bad command line or invalid value, 3 not found, 4 refused, 5 limit,
 * 6 engine down, 7 invalid configuration.
 */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof DcmError)) return 1;
  switch (err.code) {
    case 'usage':
    case 'invalid': return 2;
    case 'not-found': return 3;
    case 'denied': return 4;
    case 'limit': return 5;
    case 'unavailable': return 6;
    case 'config': return 7;
    default: return 1;
  }
}

/** The one line shown to a user for any error; unexpected errors never leak detail. */
export function userLine(err: unknown): string {
  if (err instanceof DcmError) return err.userMessage;
  return 'internal error (the administrator can find details in the log)';
}

export const usage = (msg: string) => new DcmError('usage', msg);
export const invalid = (msg: string) => new DcmError('invalid', msg);
export const notFound = (msg: string) => new DcmError('not-found', msg);
export const conflict = (msg: string) => new DcmError('conflict', msg);
export const denied = (msg: string, detail?: string) => new DcmError('denied', msg, detail);
