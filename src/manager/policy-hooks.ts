/**
 * Policy checks outside create: the running-containers limit and GPU
 * re-reservation at start, GPU release at stop (gpus.release_on_stop), and the
 * images-per-user limit at commit. Kept here so container-manager.ts only calls in.
 */
import { DcmError } from '../errors.js';
import { decideCommit } from '../policy/decide.js';
import type { ContainerRow } from '../store/containers-repo.js';
import type { Deps } from './deps.js';
import { claimStartInTx, runningSnapshot } from './start-claim.js';

/**
 * Before starting a stopped container: max_running (counting starts in flight,
 * see start-claim.ts), then take its GPUs back, in one transaction.
 */
export async function beforeStart(deps: Deps, row: ContainerRow): Promise<void> {
  const { store } = deps;
  const snap = await runningSnapshot(deps, row.owner);
  const gpus = store.policy.containerGpus(row.id);
  store.tx(() => {
    claimStartInTx(deps, row, snap);
    if (!gpus.length) return;
    const held = new Map(store.policy.reservations().map((g) => [g.gpu_id, g.container_id]));
    const taken = gpus.filter((g) => held.has(g) && held.get(g) !== row.id);
    if (taken.length) {
      throw new DcmError(
        'limit',
        `GPU ${taken.join(', ')} of container ${row.id} is now used by another container; start it when the GPU is free (see "gpus")`,
      );
    }
    store.policy.reserveGpus(
      row.id,
      row.owner,
      gpus.filter((g) => !held.has(g)),
      false,
    );
  });
}

/** After a stop: free the container's GPUs when the admin asked for that. */
export function afterStop(deps: Deps, row: ContainerRow): void {
  if (deps.config.gpus.release_on_stop) deps.store.policy.releaseGpus(row.id);
}

/** Before a commit: images.max_own, counting the user's images and `inFlight` commits not yet recorded. */
export function beforeCommit(deps: Deps, user: string, inFlight = 0): void {
  const { store, config } = deps;
  const r = decideCommit(user, store.users.groups(user), store.images.ownedBy(user).length + inFlight, config);
  if (r) throw new DcmError(r.code, r.message, r.rule);
}
