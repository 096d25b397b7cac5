/**
 * One error type for everything a user or admin can be told.
 *
 * `userMessage` is the single line a user sees (never contains another user's
 * data or Docker internals); `adminDetail` carries what an admin needs to debug
 * and goes to logs only.
 */
export type ErrorCode =
  | 'usage' // bad command line: unknown flag, missing argument
  | 'invalid' // a value that does not pass validation
  | 'not-found' // no such container/image/user (also for other users' objects)
  | 'conflict' // exists already, in use, wrong state
  | 'denied' // identity or policy refusal
  | 'limit' // quota or resource limit reached
  | 'unavailable' // container engine or another dependency down
  | 'config' // invalid configuration file
  | 'internal';

export class DcmError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly userMessage: string,
    readonly adminDetail?: string,
    /** An exit code other than the class's (a job's command that could not run: 126, 127). */
    readonly exitCode?: number,
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
export const EXIT: Readonly<Record<ErrorCode, number>> = {
  usage: 2,
  invalid: 2,
  'not-found': 3,
  conflict: 1,
  denied: 4,
  limit: 5,
  unavailable: 6,
  config: 7,
  internal: 1,
};

export function exitCodeFor(err: unknown): number {
  return err instanceof DcmError ? (err.exitCode ?? EXIT[err.code]) : 1;
}

/** The one line shown to a user for any error; unexpected errors never leak detail. */
export function userLine(err: unknown): string {
  if (err instanceof DcmError) return err.userMessage;
  return 'internal error (the administrator can find details in the log)';
}
