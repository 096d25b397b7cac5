/**
 * Repairs what a crash left between the database and the engine. Touches only
 * objects of this installation (label dcm.instance=<instance>), and leaves
 * creates still in flight in another process alone.
 */
import { LABEL_ID, LABEL_INSTANCE, LABEL_MANAGED } from '../engine/labels.js';
import type { Deps } from './deps.js';

export interface ReconcileReport {
  /** Rows whose container is gone from the engine: row and ports released. */
  rowsWithoutContainer: number[];
  /** Labelled containers no row claims: removed from the engine. */
  containersWithoutRow: string[];
  /** Creates or removes interrupted half-way: finished or undone. */
  staleReservations: number[];
  /** User image rows whose engine image is gone. */
  imagesWithoutEngineImage: string[];
  /** Labelled images no row claims: removed. */
  imagesWithoutRow: string[];
  dryRun: boolean;
}

export interface ReconcileOptions {
  dryRun?: boolean;
  /** A 'creating' row younger than this may belong to a create still running. */
  graceMs?: number;
}

export async function reconcile(deps: Deps, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  const { store, engine, config } = deps;
  const dry = opts.dryRun ?? false;
  const grace = opts.graceMs ?? 10 * 60 * 1000;
  const rep: ReconcileReport = { rowsWithoutContainer: [], containersWithoutRow: [], staleReservations: [], imagesWithoutEngineImage: [], imagesWithoutRow: [], dryRun: dry };
  const mine = [`${LABEL_MANAGED}=1`, `${LABEL_INSTANCE}=${config.instance}`];
  const live = await engine.list(mine);
  const liveIds = new Set(live.map((c) => c.id));
  const now = Date.now();
  const young = new Set<number>();

  for (const row of store.containers.all()) {
    const age = now - Date.parse(row.created_at.endsWith('Z') ? row.created_at : row.created_at + 'Z');
    if (row.state === 'creating' && age < grace) {
      young.add(row.id);
      continue;
    }
    if (row.state === 'creating' || row.state === 'removing') {
      rep.staleReservations.push(row.id);
      if (!dry) {
        const leftovers = live.filter((c) => c.id === row.docker_id || c.labels[LABEL_ID] === String(row.id));
        for (const c of leftovers) await engine.remove(c.id, true);
        store.containers.delete(row.id);
      }
      continue;
    }
    if (!row.docker_id || !liveIds.has(row.docker_id)) {
      rep.rowsWithoutContainer.push(row.id);
      if (!dry) store.containers.delete(row.id);
    }
  }

  const claimed = new Set(store.containers.all().map((r) => r.docker_id));
  for (const c of live) {
    if (claimed.has(c.id) || young.has(Number(c.labels[LABEL_ID]))) continue;
    rep.containersWithoutRow.push(c.id);
    if (!dry) await engine.remove(c.id, true);
  }

  const images = await engine.listImages(mine);
  const imageIds = new Set(images.map((i) => i.id));
  const userImages = store.db.prepare('SELECT * FROM images WHERE owner IS NOT NULL').all() as { ref: string; docker_id: string }[];
  for (const img of userImages) {
    if (!imageIds.has(img.docker_id)) {
      rep.imagesWithoutEngineImage.push(img.ref);
      if (!dry) store.images.delete(img.ref);
    }
  }
  const known = new Set(userImages.map((i) => i.docker_id));
  for (const i of images) {
    if (known.has(i.id)) continue;
    rep.imagesWithoutRow.push(i.tags[0] ?? i.id);
    if (!dry) await engine.removeImage(i.id).catch(() => undefined);
  }
  if (!dry) store.audit.record({ actor: 'admin', action: 'reconcile', ok: true, detail: JSON.stringify(rep) });
  return rep;
}
