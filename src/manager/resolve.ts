/**
 * Resolving what a user typed into their own objects. Every lookup is scoped to
 * the caller in the database; another user's container or image gets exactly
 * the same answer as one that does not exist.
 */
import { DcmError } from '../errors.js';
import { clip, parseImageNameTag } from '../names.js';
import type { Store } from '../store/store.js';
import type { ContainerRow } from '../store/containers-repo.js';
import type { ImageRow } from '../store/images-repo.js';

export const userRepo = (user: string) => `dcm/u/${user}`;

export function noSuchContainer(ref: string): DcmError {
  return new DcmError('not-found', `no such container: ${clip(ref)}`);
}

export function noSuchImage(ref: string): DcmError {
  return new DcmError('not-found', `no such image: ${clip(ref)} (run "images" to list yours)`);
}

/** By id (the SSH port), by name, or by a prefix (≥ 6 hex) of the Docker id. */
export function resolveContainer(store: Store, user: string, ref: string): ContainerRow {
  let row: ContainerRow | undefined;
  if (/^\d{1,5}$/.test(ref)) row = store.containers.ownedById(user, Number(ref));
  if (!row && ref.length <= 63) row = store.containers.ownedByName(user, ref);
  if (!row && /^[0-9a-f]{6,64}$/.test(ref)) {
    const hits = store.containers.ownedByDockerPrefix(user, ref);
    if (hits.length === 1) row = hits[0];
  }
  if (!row) throw noSuchContainer(ref);
  return row;
}

/**
 * A base image by its registered reference, or one of the user's own images as
 * NAME[:TAG] or dcm/u/<user>/NAME[:TAG].
 */
export function resolveImage(store: Store, user: string, text: string): ImageRow {
  const base = store.images.get(text) ?? (text.includes(':') ? undefined : store.images.get(`${text}:latest`));
  if (base && base.owner === null) return base;
  const own = ownImageRef(user, text);
  const row = own ? store.images.get(own) : undefined;
  if (row && row.owner === user) return row;
  throw noSuchImage(text);
}

/** The full reference of one of the user's images, or null if `text` cannot name one. */
export function ownImageRef(user: string, text: string): string | null {
  const prefix = `${userRepo(user)}/`;
  const short = text.startsWith(prefix) ? text.slice(prefix.length) : text;
  if (short.includes('/')) return null;
  try {
    const { name, tag } = parseImageNameTag(short);
    return `${prefix}${name}:${tag}`;
  } catch {
    return null;
  }
}

/** NAME:TAG as the user sees their own image. */
export function shortImageName(user: string, ref: string): string {
  const prefix = `${userRepo(user)}/`;
  return ref.startsWith(prefix) ? ref.slice(prefix.length) : ref;
}
