/** container_resources, container_gpus and gpu_reservations (migration 0002). */
import type { Db } from './db.js';

/** One GPU held by a container. */
export interface GpuReservation {
  gpu_id: string;
  container_id: number;
  owner: string;
}

export class PolicyRepo {
  constructor(private readonly db: Db) {}

  setResources(containerId: number, memoryBytes: number, cpus: number, preset: string | null): void {
    this.db
      .prepare('INSERT OR REPLACE INTO container_resources (container_id, memory_bytes, cpus, preset) VALUES (?, ?, ?, ?)')
      .run(containerId, memoryBytes, cpus, preset);
  }

  /** Sums over all of a user's containers, running or not. */
  totals(owner: string): { memoryBytes: number; cpus: number } {
    const r = this.db
      .prepare(`SELECT COALESCE(SUM(r.memory_bytes), 0) AS m, COALESCE(SUM(r.cpus), 0) AS c
                FROM container_resources r JOIN containers c ON c.id = r.container_id WHERE c.owner = ?`)
      .get(owner) as { m: number; c: number };
    return { memoryBytes: r.m, cpus: Math.round(r.c * 1000) / 1000 };
  }

  preset(containerId: number): string | null {
    const r = this.db.prepare('SELECT preset FROM container_resources WHERE container_id = ?').get(containerId) as
      | { preset: string | null }
      | undefined;
    return r?.preset ?? null;
  }

  /** Records the container's GPUs and reserves them; a GPU already held throws (UNIQUE). */
  reserveGpus(containerId: number, owner: string, ids: string[], record: boolean): void {
    const rec = this.db.prepare('INSERT OR IGNORE INTO container_gpus (container_id, gpu_id) VALUES (?, ?)');
    const res = this.db.prepare('INSERT INTO gpu_reservations (gpu_id, container_id, owner) VALUES (?, ?, ?)');
    for (const id of ids) {
      if (record) rec.run(containerId, id);
      res.run(id, containerId, owner);
    }
  }

  releaseGpus(containerId: number): void {
    this.db.prepare('DELETE FROM gpu_reservations WHERE container_id = ?').run(containerId);
  }

  /** GPU ids a container was created with. */
  containerGpus(containerId: number): string[] {
    return (
      this.db.prepare('SELECT gpu_id FROM container_gpus WHERE container_id = ? ORDER BY gpu_id').all(containerId) as { gpu_id: string }[]
    ).map((r) => r.gpu_id);
  }

  reservations(): GpuReservation[] {
    return this.db.prepare('SELECT * FROM gpu_reservations ORDER BY gpu_id').all() as GpuReservation[];
  }
}
