/**
 * Images: the admin's base images (owner NULL) and each user's committed
 * images under dcm/u/<user>/. Users list bases plus their own and remove only
 * their own; admins register and unregister bases.
 */
import { DcmError } from '../errors.js';
import { normaliseImageRef } from '../names.js';
import type { Deps } from './deps.js';
import { noSuchImage, ownImageRef, shortImageName } from './resolve.js';
import type { ImageView } from './views.js';
import type { ImageRow } from '../store/images-repo.js';

export class ImageManager {
  constructor(private readonly deps: Deps) {}

  /** Base images plus the user's own, with sizes from one engine call. */
  async list(user: string | null): Promise<ImageView[]> {
    const { store, engine } = this.deps;
    const rows = user === null ? store.images.bases() : store.images.visibleTo(user);
    const sizes = new Map<string, number>();
    if (rows.length) for (const i of await engine.listImages([])) sizes.set(i.id, i.sizeBytes);
    return rows.map((r) => this.view(r, user, sizes.get(r.docker_id) ?? null));
  }

  /** Removes one of the user's own images; refused while a container uses it. */
  async removeOwn(user: string, text: string): Promise<ImageView> {
    const { store, engine } = this.deps;
    const base = store.images.get(text) ?? store.images.get(`${text}:latest`);
    if (base && base.owner === null) {
      throw new DcmError('denied', `${base.ref} is a base image: only the administrator can remove it`);
    }
    const ref = ownImageRef(user, text);
    const row = ref ? store.images.get(ref) : undefined;
    if (!row || row.owner !== user) throw noSuchImage(text);
    const users = store.containers.usingImage(row.docker_id).filter((c) => c.owner === user);
    if (users.length) {
      throw new DcmError(
        'conflict',
        `image ${shortImageName(user, row.ref)} is used by container ${users.map((c) => c.id).join(', ')}: remove ${users.length > 1 ? 'them' : 'it'} first`,
      );
    }
    // Only the tag, and only while it still names this image: another
    // installation on the engine may have taken the name since. Any other tag
    // (an admin who published the image as a base) keeps the image alive.
    const current = await engine.inspectImage(row.ref);
    if (current?.id === row.docker_id) await engine.removeImage(row.ref);
    store.images.delete(row.ref);
    store.audit.record({ actor: user, action: 'rmi', target: row.ref, ok: true });
    return this.view(row, user, null);
  }

  /** Admin: register an image already present in the engine as a base image. */
  async addBase(refText: string): Promise<ImageView> {
    const { store, engine } = this.deps;
    const ref = normaliseImageRef(refText);
    if (ref.startsWith('dcm/u/')) throw new DcmError('invalid', "dcm/u/ is reserved for users' own images");
    const info = await engine.inspectImage(ref);
    if (!info)
      throw new DcmError('not-found', `image ${ref} is not in the local engine: build or load it first (see images/build-base.sh)`);
    store.tx(() => {
      const old = store.images.get(ref);
      if (old && old.owner !== null) throw new DcmError('conflict', `${ref} is a user's image`);
      if (old) store.images.delete(ref);
      store.images.insert({ ref, docker_id: info.id, owner: null, source: null });
    });
    store.audit.record({ actor: 'admin', action: 'images add', target: ref, ok: true, detail: info.id });
    return this.view(store.images.get(ref)!, null, info.sizeBytes);
  }

  /** Admin: unregister a base image (the engine's copy is left alone). */
  removeBase(refText: string): ImageRow {
    const { store } = this.deps;
    const ref = normaliseImageRef(refText);
    const row = store.images.get(ref);
    if (!row || row.owner !== null) throw new DcmError('not-found', `no such base image: ${ref}`);
    store.images.delete(ref);
    store.audit.record({ actor: 'admin', action: 'images rm', target: ref, ok: true });
    return row;
  }

  private view(r: ImageRow, user: string | null, size: number | null): ImageView {
    const inUse = this.deps.store.containers.usingImage(r.docker_id).filter((c) => user === null || c.owner === user);
    return {
      ref: r.ref,
      name: r.owner === null || user === null ? r.ref : shortImageName(user, r.ref),
      kind: r.owner === null ? 'base' : 'own',
      id: r.docker_id,
      sizeBytes: size,
      createdAt: r.created_at,
      inUseBy: inUse.map((c) => c.id),
    };
  }
}
