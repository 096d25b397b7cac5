/**
 * Rows in 'creating' or 'removing' left by a process that died. The row
 * records which process owns its work (store/work-owner.ts): when that process
 * is gone the row is crashed at once, and is repaired (its container, found by
 * Docker id or by this installation's labels, removed; the row, its ports and
 * GPU reservations released) by reconcile, by the owner's next create, or by
 * rm. A row whose owner lives is left to it, up to the grace period.
 */
import { LABEL_ID, LABEL_OWNER, installationFilter, provenance } from '../engine/labels.js';
import type { ContainerStatus } from '../engine/engine.js';
import type { ContainerRow } from '../store/containers-repo.js';
import { workOwnerAlive } from '../store/work-owner.js';
import type { Deps } from './deps.js';

/** Work older than this is taken for crashed even when its owner seems to live (a create waits at most ready_timeout ≤ 600 s). */
export const WORK_GRACE_MS = 10 * 60 * 1000;

/** How long the row's work has been going: since work_since (an rm or dcm-userdel of an old row), else since the insert. */
function ageMs(row: ContainerRow, now: number): number {
  if (row.work_since != null) return now - row.work_since;
  return now - Date.parse(row.created_at.endsWith('Z') ? row.created_at : `${row.created_at}Z`);
}

/**
 * Whether a process may still be working on the row: its owner lives (within
 * the grace), or — for a row made before owners were recorded — it is a young
 * 'creating' row. A 'removing' row that no process owns was left for repair.
 */
export function workInFlight(row: ContainerRow, now = Date.now(), graceMs = WORK_GRACE_MS): boolean {
  if (row.state === 'created') return false;
  if (row.work_owner !== null) return workOwnerAlive(row.work_owner) && ageMs(row, now) < graceMs;
  return row.state === 'creating' && ageMs(row, now) < graceMs;
}

/** A 'creating' or 'removing' row no process works on any more. */
export function crashedRow(row: ContainerRow, now = Date.now(), graceMs = WORK_GRACE_MS): boolean {
  return row.state !== 'created' && !workInFlight(row, now, graceMs);
}

/**
 * Removes the row's container — by its Docker id, or, when the crash came
 * before the id was recorded (the engine's answer was lost), by this
 * installation's labels and the row's id — then the row with its ports,
 * resources and GPU reservations. Returns the Docker ids it removed.
 */
export async function repairRow(deps: Deps, row: ContainerRow, live: ContainerStatus[]): Promise<string[]> {
  const { store, engine, config } = deps;
  const installation = store.installation.id;
  const leftovers = live.filter(
    (c) =>
      c.id === row.docker_id || (provenance(c.labels, config.instance, installation) === 'ours' && c.labels[LABEL_ID] === String(row.id)),
  );
  const ids = new Set(leftovers.map((c) => c.id));
  if (row.docker_id && !ids.has(row.docker_id) && (await engine.inspect(row.docker_id))) ids.add(row.docker_id);
  for (const id of ids) await removeContainer(deps, id);
  store.containers.delete(row.id);
  return [...ids];
}

/** Removes a container; one already gone (another repair, or the engine was faster) is what was wanted. */
export async function removeContainer(deps: Deps, id: string): Promise<void> {
  try {
    await deps.engine.remove(id, true);
  } catch (e) {
    if (await deps.engine.inspect(id).catch(() => null)) throw e;
  }
}

/** Repairs `owner`'s crashed rows now (one engine call, only when there are some); returns their ids. */
export async function repairOwnersCrashedRows(deps: Deps, owner: string): Promise<number[]> {
  const rows = deps.store.containers.byOwner(owner).filter((r) => crashedRow(r));
  if (!rows.length) return [];
  const live = await deps.engine.list([...installationFilter(deps.store.installation.id), `${LABEL_OWNER}=${owner}`]);
  for (const r of rows) await repairRow(deps, r, live);
  return rows.map((r) => r.id);
}
