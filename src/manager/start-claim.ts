/**
 * limits.max_running at start, race-safe across processes. The engine is read
 * before the IMMEDIATE transaction (it cannot be read inside it); starts other
 * processes have claimed but the engine may not show yet are counted from
 * start_claims inside the transaction, which also claims this start. So two
 * parallel starts never both take the last slot.
 */
import { DcmError } from '../errors.js';
import { workInFlight } from './crashed-work.js';
import { LABEL_MANAGED } from '../engine/labels.js';
import { decideStart } from '../policy/decide.js';
import type { ContainerRow } from '../store/containers-repo.js';
import type { Deps } from './deps.js';
import { myWorkOwner, workOwnerAlive } from '../store/work-owner.js';

/** An unfinished claim older than this belongs to a process that died (ready_timeout is at most 600 s). */
const STALE_MS = 15 * 60 * 1000;
/** Starts that finished this long before our engine read are counted too: processes' clocks and the engine's view may lag. */
const LEEWAY_MS = 2000;

/** What the engine showed, and when we began to look. */
export interface RunningSnapshot {
  at: number;
  /** Container ids (SSH ports) of the owner's containers the engine shows running or paused. */
  ids: Set<number>;
}

/** The owner's containers the engine has running, joined on the Docker ids in the database. */
export async function runningSnapshot(deps: Deps, owner: string): Promise<RunningSnapshot> {
  const at = Date.now();
  const rows = deps.store.containers.byOwner(owner).filter((r) => r.state === 'created' && r.docker_id);
  if (!rows.length) return { at, ids: new Set() };
  const live = await deps.engine.list([`${LABEL_MANAGED}=1`]);
  const up = new Set(live.filter((c) => c.state === 'running' || c.state === 'paused' || c.state === 'restarting').map((c) => c.id));
  return { at, ids: new Set(rows.filter((r) => up.has(r.docker_id!)).map((r) => r.id)) };
}

/** Inside store.tx(): the owner's running containers, with the starts other processes claimed since the snapshot. */
export function runningCount(store: Deps['store'], owner: string, snap: RunningSnapshot, except?: number): number {
  const counted = new Set([...snap.ids, ...store.claims.startsSince(owner, snap.at - LEEWAY_MS)]);
  if (except !== undefined) counted.delete(except);
  return counted.size;
}

/**
 * Call inside store.tx(): counts running containers, creates and other starts
 * in flight, refuses over limits.max_running, and claims this start.
 */
export function claimStartInTx(deps: Deps, row: ContainerRow, snap: RunningSnapshot): void {
  const { store, config } = deps;
  const now = Date.now();
  store.claims.prune(now - STALE_MS);
  store.claims.pruneDead(workOwnerAlive); // a start whose process died holds no slot
  const creating = store.containers.byOwner(row.owner).filter((r) => r.state === 'creating' && workInFlight(r)).length;
  const r = decideStart(row.owner, store.users.groups(row.owner), runningCount(store, row.owner, snap, row.id) + creating, config);
  if (r) throw new DcmError(r.code, r.message, r.rule);
  store.claims.claimStart(row.id, row.owner, now, myWorkOwner());
}

/** The start ended: a started container stays counted a moment longer; a failed one frees its claim. */
export function settleStart(deps: Deps, row: ContainerRow, started: boolean): void {
  if (started) deps.store.claims.startFinished(row.id, Date.now());
  else deps.store.claims.dropStart(row.id);
}
