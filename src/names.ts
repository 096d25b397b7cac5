/**
 * The allowlist for every name a user or admin types. Anything that reaches
 * Docker, the filesystem or a container's /etc/passwd is checked here first.
 */
import { DcmError } from './errors.js';

/** Unix login names that are also valid Docker repository path components. */
const USER_RE = /^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$/;
/** Container names double as hostnames: letters, digits and inner hyphens; not all digits. */
const CONTAINER_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** A user's image name: Docker repository component rules, lower case. */
const IMAGE_NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** A full image reference as an admin registers it (repo[:tag], optional registry). */
const IMAGE_REF_RE =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

const RESERVED_USERS = new Set(['root', 'daemon', 'bin', 'sys', 'nobody', 'sshd', 'dcm']);

export function checkUserName(name: string): string {
  if (name.length > 32 || !USER_RE.test(name)) {
    throw new DcmError(
      'invalid',
      `invalid user name "${clip(name)}": use lower-case letters and digits, optionally joined by single - or _, starting with a letter, at most 32 characters`,
    );
  }
  if (RESERVED_USERS.has(name)) throw new DcmError('invalid', `user name "${name}" is reserved`);
  return name;
}

export function checkContainerName(name: string): string {
  if (!CONTAINER_RE.test(name) || /^\d+$/.test(name)) {
    throw new DcmError(
      'invalid',
      `invalid container name "${clip(name)}": use letters, digits and inner hyphens (at most 63), not only digits`,
    );
  }
  return name;
}

export interface ImageNameTag {
  name: string;
  tag: string;
}

/** NAME[:TAG] for commit; the tag defaults to "latest". */
export function parseImageNameTag(text: string): ImageNameTag {
  const i = text.lastIndexOf(':');
  const name = i < 0 ? text : text.slice(0, i);
  const tag = i < 0 ? 'latest' : text.slice(i + 1);
  if (name.length > 64 || !IMAGE_NAME_RE.test(name)) {
    throw new DcmError(
      'invalid',
      `invalid image name "${clip(name)}": use lower-case letters and digits joined by . _ or -, at most 64 characters`,
    );
  }
  if (!TAG_RE.test(tag)) throw new DcmError('invalid', `invalid tag "${clip(tag)}": use letters, digits, _ . -, at most 128 characters`);
  return { name, tag };
}

/** An admin-registered image reference; adds ":latest" when no tag is given. */
export function normaliseImageRef(ref: string): string {
  if (ref.length > 255 || !IMAGE_REF_RE.test(ref)) throw new DcmError('invalid', `invalid image reference "${clip(ref)}"`);
  const lastSlash = ref.lastIndexOf('/');
  return ref.indexOf(':', lastSlash + 1) >= 0 ? ref : `${ref}:latest`;
}

export function checkPort(text: string, what = 'port'): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new DcmError('invalid', `invalid ${what} "${clip(text)}": a number from 1 to 65535`);
  }
  return Number(text);
}

/** Keeps error lines to one short line whatever the user typed: controls shown escaped, other non-ASCII as "?". */
export function clip(s: string, n = 40): string {
  const oneLine = printable(s).replace(/[^\x20-\x7e]/g, '?');
  return oneLine.length > n ? oneLine.slice(0, n) + '…' : oneLine;
}

/**
 * C0 and C1 controls, DEL, and the Unicode characters that move or reorder
 * text on a terminal (line/paragraph separators, bidi overrides and isolates).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text someone else chose, made safe to print on a terminal or in a log: every
 * control character is shown as an escape (ESC as \x1b, newline as \n), so it
 * can neither drive the terminal nor forge a log line. Everything else,
 * including letters of any script, stays as it is. Applying it twice changes
 * nothing more.
 */
export function printable(s: string): string {
  return s.replace(UNPRINTABLE, (ch) => {
    const code = ch.charCodeAt(0);
    return SHORT_ESCAPES[ch] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
  });
}
