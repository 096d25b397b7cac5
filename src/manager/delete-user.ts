/**
 * dcm-userdel as a sequence that the user cannot race and that can be run
 * again until it completes:
 *
 * 1. block the user (one transaction): every door refuses their commands and
 *    logins from now on, and the create transaction refuses new rows;
 * 2. wait for creates already in flight (rows in 'creating') to finish, then
 *    remove every container of the user, and sweep the engine for anything
 *    still labelled with their name in this installation;
 * 3. remove their images (rows and engine), or with --keep-images record
 *    them as kept (table kept_images) so reconcile leaves them in the engine;
 * 4. remove their storage with a walk that never follows a link and never
 *    leaves the storage's filesystem (storage/remove-tree.ts);
 * 5. delete the user row (keys and groups go with it), then sweep once more.
 *
 * A failure at any step leaves the user blocked with whatever is left, and
 * says so; running dcm-userdel again finishes the job.
 */
import { removeUserNetwork, type NetworkRemoval } from './user-network.js';
import { DcmError } from '../errors.js';
import { LABEL_OWNER, installationFilter, provenance } from '../engine/labels.js';
import { removeTree } from '../storage/remove-tree.js';
import { userDirs } from '../storage/user-dirs.js';
import type { Deps } from './deps.js';
import { myWorkOwner, workOwnerAlive } from '../store/work-owner.js';
import { removeContainer, repairRow, workInFlight } from './crashed-work.js';
import { pausePoint } from './pause-point.js';

export interface DelUserReport {
  user: string;
  containers: number[];
  images: string[];
  keptImages: string[];
  storage: string | null;
  /** The user's network; null when they never had one. */
  network: NetworkRemoval | null;
}

const POLL_MS = 200;

export async function deleteUser(deps: Deps, name: string, opts: { keepImages: boolean; keepStorage: boolean }): Promise<DelUserReport> {
  const { store, config } = deps;
  const report: DelUserReport = { user: name, containers: [], images: [], keptImages: [], storage: null, network: null };
  store.tx(() => {
    store.users.setBlocked(name, true);
    // Who is deleting, and how: if this process dies, reconcile finishes the job the same way.
    store.users.setDeletion(name, JSON.stringify({ keepImages: opts.keepImages, keepStorage: opts.keepStorage, owner: myWorkOwner() }));
  });
  store.audit.record({ actor: 'admin', action: 'userdel-block', target: name, ok: true });
  await pausePoint('userdel:after-block');

  await waitForCreates(deps, name);
  await removeContainers(deps, name, report);
  await pausePoint('userdel:after-containers');
  await removeImages(deps, name, opts.keepImages, report);
  await pausePoint('userdel:after-images');

  if (!opts.keepStorage) {
    const base = userDirs(config.storageDir, name).base;
    const r = removeTree(base);
    if (r.mountPoints.length) {
      throw new DcmError(
        'conflict',
        `${name} is blocked but not deleted: ${base} holds mount points (${r.mountPoints.join(', ')}); unmount them and run dcm-userdel again`,
      );
    }
    if (r.removed) report.storage = base;
  }
  await pausePoint('userdel:after-storage');

  store.tx(() => store.users.delete(name));
  await pausePoint('userdel:after-user-row');
  // Nothing can be made for the name any more (rows need the user row): one last sweep.
  await sweepEngine(deps, name, opts.keepImages);
  // Last: the network, once nothing of the user's is attached to it.
  report.network = await removeUserNetwork(deps, name);
  store.audit.record({ actor: 'admin', action: 'userdel', target: name, ok: true, detail: JSON.stringify(report) });
  return report;
}

/**
 * Creates that passed their transaction before the block may still be running
 * somewhere (dcm-server, a one-shot door). Wait for those whose process lives
 * to end (bounded by the time a create may take); a row whose process died,
 * or still 'creating' after that, is removed with whatever it left.
 */
async function waitForCreates(deps: Deps, name: string): Promise<void> {
  const { store, config } = deps;
  const deadline = Date.now() + (config.engine.ready_timeout + config.engine.stop_timeout + 60) * 1000;
  while (store.containers.byOwner(name).some((r) => r.state === 'creating' && workInFlight(r)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Finishes every dcm-userdel whose process died (with the options it was
 * given); with `dryRun`, only names them. A deletion that fails again leaves
 * the user blocked, as dcm-userdel does, and is tried at the next reconcile.
 */
export async function finishCrashedDeletions(deps: Deps, dryRun: boolean): Promise<string[]> {
  const done: string[] = [];
  for (const { name, deletion } of deps.store.users.beingDeleted()) {
    const d = parseDeletion(deletion);
    if (d === null || workOwnerAlive(d.owner)) continue;
    if (!dryRun) await deleteUser(deps, name, d);
    done.push(name);
  }
  return done;
}

function parseDeletion(text: string): { keepImages: boolean; keepStorage: boolean; owner: string } | null {
  try {
    const v = JSON.parse(text) as { keepImages?: unknown; keepStorage?: unknown; owner?: unknown };
    if (typeof v.owner !== 'string') return null;
    return { keepImages: v.keepImages === true, keepStorage: v.keepStorage === true, owner: v.owner };
  } catch {
    return null;
  }
}

async function removeContainers(deps: Deps, name: string, report: DelUserReport): Promise<void> {
  const { store, engine } = deps;
  const labelled = await engine.list([...installationFilter(store.installation.id), `${LABEL_OWNER}=${name}`]);
  for (const c of store.containers.byOwner(name)) {
    // Owned by this process, like an rm: reconcile (a running dcm-server's
    // periodic one) leaves the row to it while it lives, and repairs it at
    // once if it dies.
    store.containers.setStateOwned(c.id, 'removing', myWorkOwner());
    await pausePoint('userdel:after-mark');
    // Its container, by Docker id or by label, then the row with its ports and reservations.
    await repairRow(deps, c, labelled);
    report.containers.push(c.id);
  }
  await sweepEngine(deps, name, true);
}

async function removeImages(deps: Deps, name: string, keep: boolean, report: DelUserReport): Promise<void> {
  const { store } = deps;
  for (const img of store.images.ownedBy(name)) {
    if (keep) {
      report.keptImages.push(img.ref);
      // Recorded, so that reconcile (run at every dcm-server start) does not take it for a leftover.
      store.tx(() => {
        store.images.keep(img.docker_id, img.ref, name);
        store.images.delete(img.ref);
      });
    } else {
      await removeRowImage(deps, img);
      report.images.push(img.ref);
      store.images.delete(img.ref);
    }
  }
  if (!keep) await sweepEngine(deps, name, false);
}

/**
 * Removes the engine image of one row: by its tag only while the tag still
 * names that image (it may have been re-tagged onto another image since),
 * else by id when the image is this installation's; otherwise it is left.
 */
async function removeRowImage(deps: Deps, img: { ref: string; docker_id: string }): Promise<void> {
  const { engine, store, config } = deps;
  if ((await engine.inspectImage(img.ref))?.id === img.docker_id) {
    await engine.removeImage(img.ref);
    return;
  }
  const byId = await engine.inspectImage(img.docker_id);
  if (
    byId &&
    provenance(byId.labels, config.instance, store.installation.id) === 'ours' &&
    store.images.refsForDockerId(img.docker_id).length <= 1
  ) {
    await engine.removeImage(img.docker_id).catch(() => undefined);
  }
}

/** Removes containers (and, unless kept, images) labelled with the user in this installation that no row holds. */
async function sweepEngine(deps: Deps, name: string, keepImages: boolean): Promise<void> {
  const { store, engine } = deps;
  const mine = [...installationFilter(store.installation.id), `${LABEL_OWNER}=${name}`];
  const claimed = new Set(store.containers.byOwner(name).map((r) => r.docker_id));
  for (const c of await engine.list(mine)) {
    if (!claimed.has(c.id)) await removeContainer(deps, c.id);
  }
  if (keepImages) return;
  // An image any row holds (the user's own kept ones, or one the admin
  // registered as a base) is never removed by the sweep.
  for (const i of await engine.listImages(mine)) {
    if (store.images.refsForDockerId(i.id).length === 0) await engine.removeImage(i.id).catch(() => undefined);
  }
}
