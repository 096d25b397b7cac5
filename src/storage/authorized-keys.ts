/**
 * The authorized_keys files dcm keeps in a user's storage (root/.ssh and
 * home/.ssh), changed all-or-nothing: every file is checked and read before
 * any is written, and when a later write fails the earlier files get their old
 * content back. A key the admin was told was not kept must never open root.
 *
 * Rule for the lines in those files: dcm owns the keys it registered. Adding a
 * key merges (the user's own lines stay); removing a key drops every line that
 * carries it, whatever options or comment the line has; replacing (`--set`,
 * and dcm-useradd over kept storage) leaves exactly the given keys, so nothing
 * a previous key holder added survives.
 */
import { closeSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ensureChildDir, inDir, readChildFile, replaceChildFile } from './no-follow.js';

/** One change to apply to every authorized_keys file of a user. */
export interface KeyChange {
  /** Key lines to have (each once). */
  add: string[];
  /** Key blobs (base64) whose lines go. */
  remove?: string[];
  /** true: afterwards the file holds exactly `add`. */
  replace?: boolean;
}

/** The new content of one file, given its old content (null when absent). */
export function applyKeyChange(before: string | null, change: KeyChange): string {
  const gone = new Set(change.remove ?? []);
  const kept = change.replace
    ? []
    : (before ?? '')
        .split('\n')
        .filter((l) => l.trim())
        .filter(
          (l) =>
            !l
              .trim()
              .split(/\s+/)
              .some((word) => gone.has(word)),
        );
  for (const k of change.add) if (!kept.includes(k)) kept.push(k);
  return kept.length ? kept.join('\n') + '\n' : '';
}

/** An authorized_keys file that passed every check and was read; nothing written yet. */
export interface KeyTarget {
  sshFd: number;
  uid: number;
  gid: number;
  before: string | null;
}

/**
 * Opens (making it if missing) `.ssh` inside the open directory `dirFd` and
 * reads its authorized_keys, refusing links, FIFOs and non-directories.
 * The caller closes the target with closeKeyTarget.
 */
export function openKeyTarget(dirFd: number, shownDir: string, uid: number, gid: number): KeyTarget {
  const shownSsh = join(shownDir, '.ssh');
  const sshFd = ensureChildDir(dirFd, '.ssh', shownSsh, uid, gid, 0o700);
  try {
    return { sshFd, uid, gid, before: readChildFile(sshFd, 'authorized_keys', join(shownSsh, 'authorized_keys')) };
  } catch (e) {
    closeSync(sshFd);
    throw e;
  }
}

export function closeKeyTarget(t: KeyTarget): void {
  closeSync(t.sshFd);
}

/** Writes the change into every target, or into none (earlier files are restored when a later one fails). */
export function writeKeyTargets(targets: KeyTarget[], change: KeyChange): void {
  const done: KeyTarget[] = [];
  try {
    for (const t of targets) {
      replaceChildFile(t.sshFd, 'authorized_keys', applyKeyChange(t.before, change), t.uid, t.gid, 0o600);
      done.push(t);
    }
  } catch (e) {
    for (const t of done.reverse()) {
      try {
        if (t.before === null) unlinkSync(inDir(t.sshFd, 'authorized_keys'));
        else replaceChildFile(t.sshFd, 'authorized_keys', t.before, t.uid, t.gid, 0o600);
      } catch {
        // The original error says what failed; a restore that fails too leaves
        // the newer content, which the next key command rewrites.
      }
    }
    throw e;
  }
}
