/** images: admin base images (owner NULL) and users' committed images. */
import type { Db } from './db.js';

export interface ImageRow {
  ref: string;
  docker_id: string;
  owner: string | null;
  source: number | null;
  created_at: string;
}

export class ImagesRepo {
  constructor(private readonly db: Db) {}

  get(ref: string): ImageRow | undefined {
    return this.db.prepare('SELECT * FROM images WHERE ref = ?').get(ref) as ImageRow | undefined;
  }

  bases(): ImageRow[] {
    return this.db.prepare('SELECT * FROM images WHERE owner IS NULL ORDER BY ref').all() as ImageRow[];
  }

  /** Every user's images (owner set), for reconcile. */
  allOwned(): ImageRow[] {
    return this.db.prepare('SELECT * FROM images WHERE owner IS NOT NULL').all() as ImageRow[];
  }

  /** Docker ids of every image the database refers to: base and user images, containers' images, kept images. */
  referencedDockerIds(): Set<string> {
    const rows = this.db
      .prepare(
        'SELECT docker_id AS id FROM images UNION SELECT image_id AS id FROM containers UNION SELECT docker_id AS id FROM kept_images',
      )
      .all() as { id: string }[];
    return new Set(rows.map((r) => r.id));
  }

  ownedBy(owner: string): ImageRow[] {
    return this.db.prepare('SELECT * FROM images WHERE owner = ? ORDER BY ref').all(owner) as ImageRow[];
  }

  /** Images visible to a user: bases plus their own. */
  visibleTo(owner: string): ImageRow[] {
    return this.db
      .prepare('SELECT * FROM images WHERE owner IS NULL OR owner = ? ORDER BY owner IS NOT NULL, ref')
      .all(owner) as ImageRow[];
  }

  insert(r: Omit<ImageRow, 'created_at'>): void {
    this.db.prepare('INSERT INTO images (ref, docker_id, owner, source) VALUES (@ref, @docker_id, @owner, @source)').run(r);
  }

  delete(ref: string): void {
    this.db.prepare('DELETE FROM images WHERE ref = ?').run(ref);
  }

  refsForDockerId(dockerId: string): ImageRow[] {
    return this.db.prepare('SELECT * FROM images WHERE docker_id = ?').all(dockerId) as ImageRow[];
  }

  /** Records an image dcm-userdel --keep-images left in the engine, so reconcile leaves it alone. */
  keep(dockerId: string, ref: string, formerOwner: string): void {
    this.db.prepare('INSERT OR IGNORE INTO kept_images (docker_id, ref, former_owner) VALUES (?, ?, ?)').run(dockerId, ref, formerOwner);
  }

  /** Images kept at a user's deletion (migration 0007). */
  kept(): { docker_id: string; ref: string; former_owner: string }[] {
    return this.db.prepare('SELECT docker_id, ref, former_owner FROM kept_images ORDER BY ref').all() as {
      docker_id: string;
      ref: string;
      former_owner: string;
    }[];
  }

  forgetKept(dockerId: string): void {
    this.db.prepare('DELETE FROM kept_images WHERE docker_id = ?').run(dockerId);
  }
}
