/**
 * dcm-server's reconcile at start: repairs what a crash left and logs what it
 * did. It never stops the start: with the engine down the server still
 * serves, and commands then say the engine is unavailable.
 */
import { lineFor } from '../store/db-errors.js';
import type { Deps } from './deps.js';
import { LEGACY_NOTE, reconcile } from './reconcile.js';

export async function reconcileAtStart(deps: Deps, log: (line: string) => void): Promise<void> {
  try {
    const r = await reconcile(deps);
    const fixed =
      r.rowsWithoutContainer.length +
      r.containersWithoutRow.length +
      r.staleReservations.length +
      r.imagesWithoutEngineImage.length +
      r.imagesWithoutRow.length +
      r.restartPolicySet.length;
    log(`reconcile: ${fixed ? `repaired ${fixed} item(s)` : 'nothing to repair'}`);
    for (const o of r.legacyLeftAlone) log(`reconcile: ${LEGACY_NOTE}: ${o}`);
  } catch (e) {
    log(`reconcile skipped: ${lineFor(e, true)}`);
  }
}
