/**
 * dcm-server's reconcile at start, and again every server.reconcile_interval
 * seconds: repairs what a crash left and logs what it did. It never stops the
 * server: with the engine down the server still serves, and commands then say
 * the engine is unavailable.
 */
import { lineFor } from '../store/db-errors.js';
import type { Deps } from './deps.js';
import { LEGACY_NOTE, reconcile, type ReconcileReport } from './reconcile.js';

/** Report fields that name what a reconcile left alone, not what it repaired. */
const NOT_REPAIRED: ReadonlySet<string> = new Set<keyof ReconcileReport>(['legacyLeftAlone', 'networksNotRemoved', 'dryRun']);

/** How many things a reconcile repaired: every list's length and every count in the report, but what it left alone. */
export function repairedCount(r: ReconcileReport): number {
  let n = 0;
  for (const [k, v] of Object.entries(r)) {
    if (NOT_REPAIRED.has(k)) continue;
    if (Array.isArray(v)) n += v.length;
    else if (typeof v === 'number') n += v;
  }
  return n;
}

export async function reconcileAtStart(deps: Deps, log: (line: string) => void): Promise<void> {
  try {
    const r = await reconcile(deps);
    const fixed = repairedCount(r);
    log(`reconcile: ${fixed ? `repaired ${fixed} item(s)` : 'nothing to repair'}`);
    for (const o of r.legacyLeftAlone) log(`reconcile: ${LEGACY_NOTE}: ${o}`);
    for (const n of r.networksNotRemoved) log(`reconcile: network not removed: ${n}`);
  } catch (e) {
    log(`reconcile skipped: ${lineFor(e, true)}`);
  }
}

/**
 * Reconciles every `seconds` (0: never) until stopped, one run at a time. Logs
 * only a run that repaired something, and a failure only when the previous run
 * did not fail too (an engine that is down is said once, not every minute).
 */
export function reconcileEvery(deps: Deps, seconds: number, log: (line: string) => void): { stop(): void } {
  if (seconds <= 0) return { stop() {} };
  let running = false;
  let failing = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    reconcile(deps)
      .then((r) => {
        failing = false;
        const fixed = repairedCount(r);
        if (fixed) log(`reconcile (periodic): repaired ${fixed} item(s): ${JSON.stringify(summary(r))}`);
      })
      .catch((e: unknown) => {
        if (!failing) log(`reconcile (periodic) skipped: ${lineFor(e, true)}`);
        failing = true;
      })
      .finally(() => {
        running = false;
      });
  }, seconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The non-empty parts of a report, for one log line. */
function summary(r: ReconcileReport): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if ((Array.isArray(v) && v.length) || (typeof v === 'number' && v > 0)) out[k] = v;
  return out;
}
