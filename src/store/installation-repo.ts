/**
 * installation: the one-row table holding this installation's id, made by
 * migration 0003 at the database's first open. It tells this installation's
 * Docker objects from those of another installation on the same engine.
 */
import { DcmError } from '../errors.js';
import type { Db } from './db.js';

export class InstallationRepo {
  private cached: string | null = null;

  constructor(private readonly db: Db) {}

  /** 32 lower-case hex characters; never changes once made. */
  get id(): string {
    if (this.cached) return this.cached;
    const row = this.db.prepare('SELECT id FROM installation WHERE one = 1').get() as { id: string } | undefined;
    // Without its id this installation could not tell its objects from
    // another's: stop rather than guess (a new id would orphan every object).
    if (!row)
      throw new DcmError('config', 'the dcm database has no installation id (table "installation" is empty): restore it from a backup');
    this.cached = row.id;
    return row.id;
  }
}
