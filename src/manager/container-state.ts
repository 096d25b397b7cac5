/**
 * What `show` says about a container's state, from the database row and the
 * engine's view — including what happened behind dcm's back: a container
 * stopped or killed with the docker CLI, one the kernel killed at its memory
 * limit (and the engine started again), and one removed from the engine,
 * which is "gone" rather than an error. The state and status stay the
 * engine's own words; how the container last ended is told beside them.
 */
import type { ContainerStatus, RunState } from '../engine/engine.js';
import type { ContainerRow } from '../store/containers-repo.js';

export type ShownState = RunState | 'gone' | 'creating' | 'removing';

/** How the container last ended, when the engine was asked about this container. */
export interface EndFacts {
  /** Exit code of its last end, while it is not up (the engine forgets it when it starts it again); null otherwise. */
  exitCode: number | null;
  /** At its last end, the kernel had killed a process of it at its memory limit. */
  oomKilled: boolean;
  /** When it last ended (ISO time); null while it never ended. */
  endedAt: string | null;
  /** Times the engine started it again on its own since it was last started by hand. */
  restarts: number;
}

/** What `status` says of a container removed from the engine outside dcm. */
const GONE_STATUS = 'removed from the container engine outside dcm; remove it with rm (the administrator can run dcm-admin reconcile)';

export function shownState(row: ContainerRow, st: ContainerStatus | null): ShownState {
  if (row.state !== 'created') return row.state;
  return st ? st.state : 'gone';
}

export function shownStatus(row: ContainerRow, st: ContainerStatus | null): string {
  if (row.state !== 'created') return row.state;
  return st ? st.status : GONE_STATUS;
}

/** The engine's facts about the last end; null when it gave none (a list entry of a container that is up). */
export function endFacts(st: ContainerStatus | null): EndFacts | null {
  if (!st || st.exitCode === undefined) return null;
  const down = st.state === 'exited' || st.state === 'dead';
  return {
    exitCode: down && st.finishedAt !== undefined ? st.exitCode : null,
    oomKilled: st.oomKilled === true,
    endedAt: st.finishedAt ?? null,
    restarts: st.restartCount ?? 0,
  };
}

/**
 * The line `show CONTAINER` adds under the state when there is something to
 * tell: how a stopped container ended, or that the engine started a running
 * one again after it ended on its own. null otherwise.
 */
export function endLine(state: ShownState, end: EndFacts | null): string | null {
  if (!end) return null;
  const at = end.endedAt ? ` at ${end.endedAt}` : '';
  if ((state === 'exited' || state === 'dead') && end.exitCode !== null) return `ended${at} with code ${end.exitCode}${whyEnded(end)}`;
  if ((state === 'running' || state === 'paused' || state === 'restarting') && end.restarts > 0) {
    const times = end.restarts === 1 ? 'once' : `${end.restarts} times`;
    return `started again by the engine ${times} after it ended on its own, last${at}${end.oomKilled ? ` (${OOM})` : ''}`;
  }
  return null;
}

const OOM = 'out of memory: the kernel killed a process of it at its memory limit';

function whyEnded(end: EndFacts): string {
  if (end.oomKilled) return ` (${OOM})`;
  if (end.exitCode === 137) return ' (killed)';
  if (end.exitCode === 143) return ' (terminated)';
  return '';
}
