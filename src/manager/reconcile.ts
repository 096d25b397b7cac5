/**
 * Repairs what a crash left between the database and the engine.
 *
 * Touches only this installation's objects: those labelled with its id
 * (dcm.installation), and — for objects made before installations had ids —
 * only those this database references by Docker id. An unlabelled object no
 * row references may belong to another installation with the same instance
 * name: it is reported, never removed. No image that a row of the images
 * table (base or user), a container row or a kept image (dcm-userdel
 * --keep-images) references is ever removed, and work still in flight in a
 * living process (a create, rm, commit, dcm-useradd, dcm-userdel or the
 * making of a user's network) is left alone; work whose process died is
 * repaired at once (crashed-work.ts, crashed-useradd.ts).
 */
import { LABEL_ID, LABEL_MANAGED, LABEL_OWNER, provenance } from '../engine/labels.js';
import type { ContainerStatus, ImageStatus } from '../engine/engine.js';
import { workOwnerAlive } from '../store/work-owner.js';
import type { Deps } from './deps.js';
import { WORK_GRACE_MS, repairRow, workInFlight } from './crashed-work.js';
import { finishCrashedDeletions } from './delete-user.js';
import { giveRestartPolicy } from './restart-policy-upgrade.js';
import { finishCrashedAdditions } from './crashed-useradd.js';
import { repairNetworks } from './user-network.js';

export interface ReconcileReport {
  /** Rows whose container is gone from the engine: row and ports released. */
  rowsWithoutContainer: number[];
  /** Containers labelled with this installation that no row claims: removed from the engine. */
  containersWithoutRow: string[];
  /** Creates or removes interrupted half-way: finished or undone. */
  staleReservations: number[];
  /** User image rows (and kept images' records) whose engine image is gone. */
  imagesWithoutEngineImage: string[];
  /** Images labelled with this installation that no row references: removed. */
  imagesWithoutRow: string[];
  /** User image rows whose tag was never set (a commit that died before tagging): tagged. */
  imagesRetagged: string[];
  /** Start and commit claims of processes that died: dropped, so they count against no quota. */
  deadClaims: number;
  /** Users whose dcm-userdel died half-way: deleted now, with the options it was given. */
  usersDeleted: string[];
  /** Users whose dcm-useradd died half-way: storage and keys made from their row, block lifted (crashed-useradd.ts). */
  usersAdded: string[];
  /** Users whose dcm-useradd died half-way and whose storage refused: removed ("name: reason"), to be added again. */
  usersAddUndone: string[];
  /** Users' networks no user needs any more (a user gone, or no row names them): removed. */
  networksRemoved: string[];
  /** Such networks the engine would not remove ("name: why", e.g. something still attached): tried again next time. */
  networksNotRemoved: string[];
  /** Users' networks made by a process that died before recording them: recorded. */
  networksRecorded: string[];
  /** Objects made before installations had ids, with this instance name, that no row references: left alone. */
  legacyLeftAlone: string[];
  /** Containers made before dcm set restart policies: given the one it sets now (restart-policy-upgrade.ts). */
  restartPolicySet: number[];
  dryRun: boolean;
}

export interface ReconcileOptions {
  dryRun?: boolean;
  /** Work whose process seems alive is left alone for this long (crashed-work.ts). */
  graceMs?: number;
}

/** The report line for an unlabelled object reconcile will not touch. */
export const LEGACY_NOTE = 'legacy object without installation label: left alone';

export async function reconcile(deps: Deps, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  const { store, engine, config } = deps;
  const dry = opts.dryRun ?? false;
  const grace = opts.graceMs ?? WORK_GRACE_MS;
  const installation = store.installation.id;
  const rep: ReconcileReport = {
    rowsWithoutContainer: [],
    containersWithoutRow: [],
    staleReservations: [],
    imagesWithoutEngineImage: [],
    imagesWithoutRow: [],
    imagesRetagged: [],
    deadClaims: 0,
    usersDeleted: [],
    usersAdded: [],
    usersAddUndone: [],
    networksRemoved: [],
    networksNotRemoved: [],
    networksRecorded: [],
    legacyLeftAlone: [],
    restartPolicySet: [],
    dryRun: dry,
  };
  // A dcm-userdel whose process died is finished first: it removes that user's things itself.
  rep.usersDeleted = await finishCrashedDeletions(deps, dry);
  // A dcm-useradd whose process died is finished (or undone): no user stays half-made.
  const added = await finishCrashedAdditions(deps, dry, grace);
  rep.usersAdded = added.completed;
  rep.usersAddUndone = added.undone;
  if (!dry) rep.deadClaims = store.claims.pruneDead(workOwnerAlive);
  const whose = (labels: Record<string, string>) => provenance(labels, config.instance, installation);
  // Every dcm object on the engine, of any installation: which ids exist. What
  // may be acted on is decided per object below.
  const live = await engine.list([`${LABEL_MANAGED}=1`]);
  const liveById = new Map(live.map((c) => [c.id, c]));
  const now = Date.now();
  const young = new Set<number>();
  /** Containers already removed with their crashed row: not reported again below. */
  const repaired = new Set<string>();

  for (const row of store.containers.all()) {
    // A removal whose container is already gone has nothing left in flight but
    // deleting its row (an rm that could not write it, e.g. on a full disk,
    // while its process lives on as dcm-server): repaired now, whoever owns it.
    const removed = row.state === 'removing' && row.docker_id !== null && !(await containerExists(deps, liveById, row.docker_id));
    if (!removed && workInFlight(row, now, grace)) {
      young.add(row.id);
      continue;
    }
    if (row.state === 'creating' || row.state === 'removing') {
      rep.staleReservations.push(row.id);
      if (!dry) for (const id of await repairRow(deps, row, live)) repaired.add(id);
      continue;
    }
    if (!row.docker_id || !(await containerExists(deps, liveById, row.docker_id))) {
      rep.rowsWithoutContainer.push(row.id);
      if (!dry) store.containers.delete(row.id);
    }
  }

  const claimed = new Set(store.containers.all().map((r) => r.docker_id));
  for (const c of live) {
    if (claimed.has(c.id) || repaired.has(c.id)) continue;
    const w = whose(c.labels);
    if (w === 'foreign') continue;
    if (w === 'legacy') {
      rep.legacyLeftAlone.push(`container ${c.id.slice(0, 12)}`);
      continue;
    }
    if (young.has(Number(c.labels[LABEL_ID]))) continue;
    rep.containersWithoutRow.push(c.id);
    if (!dry) await engine.remove(c.id, true);
  }

  rep.restartPolicySet = await giveRestartPolicy(deps, liveById, dry);

  // Networks last among the engine's objects: a network goes only once no container is attached.
  const nets = await repairNetworks(deps, dry);
  for (const n of nets.removed) {
    if (n.removed || dry) rep.networksRemoved.push(n.name);
    else rep.networksNotRemoved.push(`${n.name}: ${n.error ?? 'refused by the engine'}`);
  }
  rep.networksRecorded = nets.recorded;

  const images = await engine.listImages([`${LABEL_MANAGED}=1`]);
  const imagesById = new Map(images.map((i) => [i.id, i]));
  for (const img of store.images.allOwned()) {
    if (!(await imageExists(deps, imagesById, img.docker_id))) {
      rep.imagesWithoutEngineImage.push(img.ref);
      if (!dry) store.images.delete(img.ref);
      continue;
    }
    // Recorded but never tagged (commit records, then tags): give it its name, unless the engine already uses it.
    const listed = imagesById.get(img.docker_id);
    if (listed && !listed.tags.includes(img.ref) && !(await engine.inspectImage(img.ref))) {
      rep.imagesRetagged.push(img.ref);
      const at = img.ref.lastIndexOf(':');
      if (!dry) await engine.tag(img.docker_id, img.ref.slice(0, at), img.ref.slice(at + 1));
    }
  }
  // An image dcm-userdel --keep-images left stays until the admin removes it; then its record goes.
  for (const k of store.images.kept()) {
    if (!(await imageExists(deps, imagesById, k.docker_id))) {
      rep.imagesWithoutEngineImage.push(k.ref);
      if (!dry) store.images.forgetKept(k.docker_id);
    }
  }
  // Every image a row stands for — a user's, a base image (even one first
  // committed by a user), or the image of a container — stays.
  const kept = store.images.referencedDockerIds();
  // A commit in flight in a living process has made its image but may not have recorded it yet.
  const committing = store.claims.committingUsers(workOwnerAlive);
  for (const i of images) {
    if (kept.has(i.id)) continue;
    if (committing.has(i.labels[LABEL_OWNER] ?? '')) continue;
    const w = whose(i.labels);
    if (w === 'foreign') continue;
    const name = i.tags[0] ?? i.id;
    if (w === 'legacy') {
      rep.legacyLeftAlone.push(`image ${name}`);
      continue;
    }
    rep.imagesWithoutRow.push(name);
    if (!dry) await engine.removeImage(i.id).catch(() => undefined);
  }
  if (!dry) store.audit.record({ actor: 'admin', action: 'reconcile', ok: true, detail: JSON.stringify(rep) });
  return rep;
}

/** In the dcm-labelled listing, or else asked for directly (an object without dcm labels still exists). */
async function containerExists(deps: Deps, listed: Map<string, ContainerStatus>, id: string): Promise<boolean> {
  return listed.has(id) || (await deps.engine.inspect(id)) !== null;
}

async function imageExists(deps: Deps, listed: Map<string, ImageStatus>, id: string): Promise<boolean> {
  return listed.has(id) || (await deps.engine.inspectImage(id)) !== null;
}
