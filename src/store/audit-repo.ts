/** audit_log: who did what, and whether it worked. */
import type { Db } from './db.js';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string | number | null;
  ok: boolean;
  detail?: string | null;
}

export class AuditRepo {
  constructor(private readonly db: Db) {}

  record(e: AuditEntry): void {
    this.db
      .prepare('INSERT INTO audit_log (actor, action, target, ok, detail) VALUES (?, ?, ?, ?, ?)')
      .run(e.actor, e.action, e.target == null ? null : String(e.target), e.ok ? 1 : 0, e.detail ?? null);
  }

  recent(limit = 50): (AuditEntry & { at: string })[] {
    return this.db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit) as (AuditEntry & { at: string })[];
  }
}
