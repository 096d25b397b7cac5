/**
 * The SSH port handed out last (table ssh_port_cursor), which the port
 * allocator starts after. Read and move it inside the transaction that
 * reserves the port, so two creates never start from the same place.
 */
import type { Db } from './db.js';

export class SshPortCursor {
  constructor(private readonly db: Db) {}

  /** The port handed out last, or null before the first create. */
  read(): number | null {
    const row = this.db.prepare('SELECT last_port FROM ssh_port_cursor WHERE id = 1').get() as { last_port: number } | undefined;
    return row ? row.last_port : null;
  }

  move(port: number): void {
    this.db
      .prepare('INSERT INTO ssh_port_cursor (id, last_port) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET last_port = excluded.last_port')
      .run(port);
  }
}
