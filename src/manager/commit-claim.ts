/**
 * images.max_own at commit, race-safe across processes: the name and a quota
 * slot are claimed in one IMMEDIATE transaction before the engine writes the
 * layer (so a refused commit costs the engine nothing), and the image row
 * replaces the claim in another once the layer exists.
 */
import type { DcmError } from '../errors.js';
import type { Deps } from './deps.js';
import { beforeCommit } from './policy-hooks.js';
import { myWorkOwner, workOwnerAlive } from '../store/work-owner.js';

/** A claim older than this belongs to a process that died (a commit of a big container may take minutes). */
const STALE_MS = 60 * 60 * 1000;

/** Claims `ref` for `user`, or throws `taken()` or the images.max_own refusal. */
export function claimCommit(deps: Deps, user: string, ref: string, taken: () => DcmError): void {
  const { store } = deps;
  store.tx(() => {
    store.claims.prune(Date.now() - STALE_MS);
    store.claims.pruneDead(workOwnerAlive); // a commit whose process died holds no slot
    if (store.images.get(ref)) throw taken();
    // The user's images plus their commits in flight (this one not yet claimed).
    beforeCommit(deps, user, store.claims.commitsInFlight(user));
    if (!store.claims.claimCommit(ref, user, Date.now(), myWorkOwner())) throw taken();
  });
}

/** The layer exists: the image row replaces the claim. */
export function recordCommit(deps: Deps, user: string, ref: string, imageId: string, source: number, taken: () => DcmError): void {
  const { store } = deps;
  store.tx(() => {
    store.claims.dropCommit(ref);
    if (store.images.get(ref)) throw taken();
    store.images.insert({ ref, docker_id: imageId, owner: user, source });
  });
}
