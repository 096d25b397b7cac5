/**
 * Templated mount sources: a catalogue entry's `source` may name the user
 * (`/home/{user}`, `/scratch/{uid}`) or start with the user's host home
 * (`{home}/data`). The values come from dcm, never from what the user typed:
 * the user name (lower-case letters, digits, single - or _: never "/" or "."),
 * the numeric uid and gid, and the home directory of the host account of the
 * same name and uid. Each value is checked again here before it is put into a
 * path, and the path that results must still be absolute, without "..", ":"
 * or ",", so that no value can lead a bind outside the directory the
 * administrator wrote. Pure.
 */

/** The placeholders a mount source may use. */
export const MOUNT_PLACEHOLDERS = ['user', 'uid', 'gid', 'home'] as const;

/** The values a source is expanded with: the user's own, from dcm's records and the host's account database. */
export interface MountVars {
  user: string;
  uid: number;
  gid: number;
  /** The home of the host account of the same name and uid; null when there is none. */
  home: string | null;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Whether a source has placeholders. */
export const isTemplated = (path: string): boolean => /[{}]/.test(path);

/** What is wrong with a template as the administrator wrote it; null when it is valid. */
export function templateProblem(path: string): string | null {
  const names = [...path.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  const unknown = names.find((n) => !(MOUNT_PLACEHOLDERS as readonly string[]).includes(n));
  if (unknown !== undefined) return `unknown placeholder {${unknown.slice(0, 20)}}: use {user}, {uid}, {gid} or {home}`;
  if (/[{}]/.test(path.replace(PLACEHOLDER, ''))) return 'a "{" or "}" that is not part of {user}, {uid}, {gid} or {home}';
  if (names.includes('home') && !/^\{home\}(\/|$)/.test(path)) return '{home} may only stand at the start, as in {home}/data';
  if (names.filter((n) => n === 'home').length > 1) return '{home} may stand only once';
  return null;
}

/** A template with every placeholder replaced by a plain path component, for the checks an absolute path must pass. */
export const sampleOf = (path: string): string => path.replace(/^\{home\}/, '/home/x').replace(PLACEHOLDER, 'x');

/** The directory a templated source always lies in (the part before its first placeholder); null when it starts with {home}. */
export function fixedParent(path: string): string | null {
  const at = path.indexOf('{');
  if (at < 0) return path;
  if (at === 0) return null;
  const dir = path.slice(0, path.lastIndexOf('/', at));
  return dir === '' ? '/' : dir;
}

/** One path component made of safe characters, never "." or "..". */
const SAFE_COMPONENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** An absolute path without "." or ".." components, empty components, ":", "," or NUL, and not "/" itself. */
function plainAbsolute(p: string): boolean {
  if (!p.startsWith('/') || p === '/' || /[:,\0]/.test(p)) return false;
  return p
    .slice(1)
    .split('/')
    .every((c) => c !== '' && c !== '.' && c !== '..');
}

/** The source for one user, or why it cannot be made (one line for the user). */
export function expandSource(path: string, v: MountVars): { path: string } | { error: string } {
  if (!isTemplated(path)) return { path };
  const values: Record<string, string | null> = { user: v.user, uid: String(v.uid), gid: String(v.gid), home: v.home };
  for (const [k, val] of Object.entries(values)) {
    if (!path.includes(`{${k}}`)) continue;
    if (val === null) return { error: 'it uses your host home directory, and you have no host account of your own' };
    if (k === 'home' ? !plainAbsolute(val) : !SAFE_COMPONENT.test(val) || val.length > 64)
      return { error: `your ${k === 'home' ? 'host home directory' : k} cannot be part of a path` };
  }
  const out = path.replace(PLACEHOLDER, (_m, k: string) => values[k]!);
  // Belt and braces: whatever went in, what comes out is a plain absolute path.
  if (!plainAbsolute(out)) return { error: 'its host path would not be a plain absolute path' };
  return { path: out };
}
