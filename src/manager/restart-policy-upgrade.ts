/**
 * Reconcile's part in restart policies: every container of this database
 * carries the one dcm makes containers with (engine/restart-policy.ts), so
 * that after an engine or host restart the engine starts exactly the ones
 * that were running. Containers made before dcm set a policy ('no') lack the
 * label that says so (and labels cannot be added later); only those are asked
 * about, once each: a container found with the policy (or given it) is marked
 * (containers.restart_policy_known), so later runs, dcm-server's periodic ones
 * included, cost no inspect. A stopped one is not started by this, and one
 * the user stopped stays stopped at the next engine restart.
 */
import { LABEL_RESTART } from '../engine/labels.js';
import type { ContainerStatus } from '../engine/engine.js';
import { RESTART_POLICY } from '../engine/restart-policy.js';
import type { Deps } from './deps.js';

/** Ids (SSH ports) of the containers given the policy (or that would be, when `dry`). */
export async function giveRestartPolicy(deps: Deps, live: Map<string, ContainerStatus>, dry: boolean): Promise<number[]> {
  const given: number[] = [];
  for (const row of deps.store.containers.all()) {
    // A job ends for good (restart policy "no"): it is never given the policy.
    if (row.state !== 'created' || !row.docker_id || row.restart_policy_known || row.job !== null) continue;
    const listed = live.get(row.docker_id);
    if (!listed || listed.labels[LABEL_RESTART] === RESTART_POLICY) continue;
    const st = await deps.engine.inspect(row.docker_id);
    if (!st) continue;
    if (st.restartPolicy !== RESTART_POLICY) {
      given.push(row.id);
      if (dry) continue;
      await deps.engine.setRestartPolicy(row.docker_id);
    }
    if (!dry) deps.store.containers.setRestartPolicyKnown(row.id);
  }
  return given;
}
