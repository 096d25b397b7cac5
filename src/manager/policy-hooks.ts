/**
 * Policy checks outside create: the running-containers limit and GPU
 * re-reservation at start, GPU release at stop (gpus.release_on_stop), and the
 * images-per-user limit at commit. Kept here so container-manager.ts only calls in.
 */
import { DcmError } from '../errors.js';
import { decideCommit, decideStart } from '../policy/decide.js';
import type { ContainerRow } from '../store/containers-repo.js';
import type { Deps } from './deps.js';
import { runningContainers } from './create-container.js';

/** Before starting a stopped container: max_running, then take its GPUs back. */
export async function beforeStart(deps: Deps, row: ContainerRow): Promise<void> {
  const { store, config } = deps;
  const running = await runningContainers(deps, row.owner);
  const r = decideStart(row.owner, store.users.groups(row.owner), running, config);
  if (r) throw new DcmError(r.code, r.message, r.rule);
  const gpus = store.policy.containerGpus(row.id);
  if (!gpus.length) return;
  store.tx(() => {
    const held = new Map(store.policy.reservations().map((g) => [g.gpu_id, g.container_id]));
    const taken = gpus.filter((g) => held.has(g) && held.get(g) !== row.id);
    if (taken.length) {
      throw new DcmError('limit', `GPU ${taken.join(', ')} of container ${row.id} is now used by another container; start it when the GPU is free (see "gpus")`);
    }
    store.policy.reserveGpus(row.id, row.owner, gpus.filter((g) => !held.has(g)), false);
  });
}

/** After a stop: free the container's GPUs when the admin asked for that. */
export function afterStop(deps: Deps, row: ContainerRow): void {
  if (deps.config.gpus.release_on_stop) deps.store.policy.releaseGpus(row.id);
}

/** Before a commit: images.max_own. */
export function beforeCommit(deps: Deps, user: string): void {
  const { store, config } = deps;
  const r = decideCommit(user, store.users.groups(user), store.images.ownedBy(user).length, config);
  if (r) throw new DcmError(r.code, r.message, r.rule);
}
