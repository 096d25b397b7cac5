/**
 * start_claims and commit_claims: starts and commits in flight, counted by the
 * max_running and images.max_own checks inside their IMMEDIATE transactions.
 * A claim whose process died is ignored (and pruned) after a while.
 */
import type { Db } from './db.js';

export class ClaimsRepo {
  constructor(private readonly db: Db) {}

  /** Drops claims older than `before` (ms): left by a process that died. */
  prune(before: number): void {
    this.db.prepare('DELETE FROM start_claims WHERE started_at < ?').run(before);
    this.db.prepare('DELETE FROM commit_claims WHERE started_at < ?').run(before);
  }

  /**
   * Drops claims whose process is gone (store/work-owner.ts), at once: a start
   * or commit that died counts against no quota.
   */
  pruneDead(alive: (workOwner: string) => boolean): number {
    let n = 0;
    for (const table of ['start_claims', 'commit_claims'] as const) {
      const owners = this.db.prepare(`SELECT DISTINCT work_owner FROM ${table} WHERE work_owner IS NOT NULL`).all() as {
        work_owner: string;
      }[];
      for (const { work_owner } of owners) {
        if (!alive(work_owner)) n += this.db.prepare(`DELETE FROM ${table} WHERE work_owner = ?`).run(work_owner).changes;
      }
    }
    return n;
  }

  /** Users with a commit in flight in a living process: their untagged images may not be recorded yet. */
  committingUsers(alive: (workOwner: string) => boolean): Set<string> {
    const rows = this.db.prepare('SELECT owner, work_owner FROM commit_claims').all() as { owner: string; work_owner: string | null }[];
    return new Set(rows.filter((r) => r.work_owner === null || alive(r.work_owner)).map((r) => r.owner));
  }

  /** Containers of `owner` whose start is in flight or finished at or after `since` (ms). */
  startsSince(owner: string, since: number): number[] {
    const rows = this.db
      .prepare('SELECT container_id FROM start_claims WHERE owner = ? AND (finished_at IS NULL OR finished_at >= ?)')
      .all(owner, since) as { container_id: number }[];
    return rows.map((r) => r.container_id);
  }

  claimStart(containerId: number, owner: string, now: number, workOwner: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO start_claims (container_id, owner, started_at, finished_at, work_owner) VALUES (?, ?, ?, NULL, ?)')
      .run(containerId, owner, now, workOwner);
  }

  /** The engine has the container running: it stays counted a little longer, for readers that looked before. */
  startFinished(containerId: number, now: number): void {
    this.db.prepare('UPDATE start_claims SET finished_at = ? WHERE container_id = ?').run(now, containerId);
  }

  dropStart(containerId: number): void {
    this.db.prepare('DELETE FROM start_claims WHERE container_id = ?').run(containerId);
  }

  commitsInFlight(owner: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM commit_claims WHERE owner = ?').get(owner) as { n: number }).n;
  }

  /** false when another commit already claimed this reference. */
  claimCommit(ref: string, owner: string, now: number, workOwner: string): boolean {
    return (
      this.db
        .prepare('INSERT OR IGNORE INTO commit_claims (ref, owner, started_at, work_owner) VALUES (?, ?, ?, ?)')
        .run(ref, owner, now, workOwner).changes === 1
    );
  }

  dropCommit(ref: string): void {
    this.db.prepare('DELETE FROM commit_claims WHERE ref = ?').run(ref);
  }
}
