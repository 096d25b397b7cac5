/**
 * A dcm-useradd whose process died half-way. Its row was inserted blocked
 * and marked with the process's token (users.addition, migration 0010), in
 * the transaction that also recorded the keys and groups: so the row holds
 * all that is needed to finish. Reconcile finishes it — both directories and
 * both authorized_keys files made from the row's keys, then the block lifted
 * — or, when the storage refuses (as it would have refused dcm-useradd
 * itself), removes the row as a failed dcm-useradd does. Either way no user
 * stays half-made: the user is complete, or absent and can be added again.
 */
import { DcmError } from '../errors.js';
import { keyLine } from '../ssh-keys.js';
import { storageOwners } from '../storage/id-map.js';
import { ensureUserDirs } from '../storage/user-dirs.js';
import type { UserRow } from '../store/users-repo.js';
import { workOwnerAlive } from '../store/work-owner.js';
import { WORK_GRACE_MS } from './crashed-work.js';
import type { Deps } from './deps.js';
import { engineRemap } from './engine-userns.js';

export interface AdditionsReport {
  /** Users whose dcm-useradd died: storage and keys made, block lifted. */
  completed: string[];
  /** Users whose dcm-useradd died and whose storage refused: row removed ("name: reason"). */
  undone: string[];
}

/** What dcm-useradd says about a name whose earlier dcm-useradd has not finished. */
export function unfinishedAddition(name: string): string {
  return `user ${name} is still being added (or its dcm-useradd died half-way: dcm-admin reconcile finishes it)`;
}

/** The process that owns the addition, from the row's JSON; null when unreadable. */
function additionOwner(u: UserRow): string | null {
  try {
    const v = JSON.parse(u.addition ?? '') as { owner?: unknown };
    return typeof v.owner === 'string' ? v.owner : null;
  } catch {
    return null;
  }
}

const ageMs = (u: UserRow, now: number) => now - Date.parse(u.created_at.endsWith('Z') ? u.created_at : `${u.created_at}Z`);

/** Whether a process may still be adding the user: its owner lives, within the grace. */
export function additionInFlight(u: UserRow, now = Date.now(), graceMs = WORK_GRACE_MS): boolean {
  const owner = additionOwner(u);
  return owner !== null && workOwnerAlive(owner) && ageMs(u, now) < graceMs;
}

/**
 * Finishes (or undoes) every dcm-useradd whose process died; with `dryRun`,
 * only names them (as completed). A user dcm-userdel has begun to remove is
 * left to it. Throws when the engine cannot say its user namespace mapping
 * (the storage's owners depend on it), like the rest of reconcile.
 */
export async function finishCrashedAdditions(deps: Deps, dryRun: boolean, graceMs = WORK_GRACE_MS): Promise<AdditionsReport> {
  const { store, config } = deps;
  const out: AdditionsReport = { completed: [], undone: [] };
  const now = Date.now();
  const crashed = store.users.beingAdded().filter((u) => u.deletion === null && !additionInFlight(u, now, graceMs));
  if (!crashed.length) return out;
  if (dryRun) {
    out.completed = crashed.map((u) => u.name);
    return out;
  }
  const remap = await engineRemap(deps.engine);
  for (const u of crashed) {
    const lines = store.users.keys(u.name).map((k) => keyLine({ algo: k.algo, b64: k.key_b64, comment: k.comment }));
    try {
      const owners = storageOwners(remap, u.uid, u.gid);
      ensureUserDirs(config.storageDir, u.name, u.uid, u.gid, { add: lines, replace: true }, owners);
      store.users.finishAddition(u.name);
      store.audit.record({ actor: 'admin', action: 'useradd', target: u.name, ok: true, detail: 'finished by reconcile' });
      out.completed.push(u.name);
    } catch (e) {
      store.users.delete(u.name);
      const why = e instanceof DcmError ? e.userMessage : (e as Error).message;
      store.audit.record({ actor: 'admin', action: 'useradd', target: u.name, ok: false, detail: `undone by reconcile: ${why}` });
      out.undone.push(`${u.name}: ${why}`);
    }
  }
  return out;
}
