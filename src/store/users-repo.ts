/** users, user_keys, groups and user_groups. */
import type { Db } from './db.js';

export interface UserRow {
  name: string;
  uid: number;
  gid: number;
  created_at: string;
  /** 1 while dcm-userdel removes the user, or dcm-useradd has not finished: no commands, no logins (migration 0005). */
  blocked: number;
  /** 1 after a revocation its authorized_keys files refused: no create or start until a key write succeeds (migration 0007). */
  keys_unsynced: number;
  /** JSON of the dcm-userdel in flight (its options and owning process), or null (migration 0008). */
  deletion: string | null;
  /** JSON of the dcm-useradd in flight ({"owner":TOKEN}), or null once the user is complete (migration 0010). */
  addition: string | null;
}

export interface KeyRow {
  id: number;
  user: string;
  algo: string;
  key_b64: string;
  comment: string;
  fingerprint: string;
}

export class UsersRepo {
  constructor(private readonly db: Db) {}

  get(name: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
  }

  list(): UserRow[] {
    return this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[];
  }

  /**
   * With `addition` (the dcm-useradd making the user), the row is inserted
   * blocked: no door lets the user in until finishAddition().
   */
  insert(u: { name: string; uid: number; gid: number; addition?: string }): void {
    this.db
      .prepare('INSERT INTO users (name, uid, gid, blocked, addition) VALUES (?, ?, ?, ?, ?)')
      .run(u.name, u.uid, u.gid, u.addition ? 1 : 0, u.addition ?? null);
  }

  /** The user's storage and keys are in place: lifts the block an addition set (not one of dcm-userdel). */
  finishAddition(name: string): void {
    this.db.prepare('UPDATE users SET addition = NULL, blocked = 0 WHERE name = ? AND addition IS NOT NULL AND deletion IS NULL').run(name);
  }

  /** Users a dcm-useradd has begun to add and not finished. */
  beingAdded(): UserRow[] {
    return this.db.prepare('SELECT * FROM users WHERE addition IS NOT NULL ORDER BY name').all() as UserRow[];
  }

  delete(name: string): void {
    this.db.prepare('DELETE FROM users WHERE name = ?').run(name);
  }

  /** Highest uid handed out within [lo, hi], or undefined. */
  maxUidIn(lo: number, hi: number): number | undefined {
    const r = this.db.prepare('SELECT MAX(uid) AS m FROM users WHERE uid BETWEEN ? AND ?').get(lo, hi) as { m: number | null };
    return r.m ?? undefined;
  }

  uidTaken(uid: number): boolean {
    return this.db.prepare('SELECT 1 FROM users WHERE uid = ?').get(uid) !== undefined;
  }

  /**
   * The key a login offers, if it is registered to exactly this user and the
   * user may log in (not blocked by dcm-userdel, nor by a dcm-useradd
   * that has not finished). One indexed lookup by
   * (user, key), so an unknown user and an unknown key cost the same.
   */
  keyFor(user: string, blob: Buffer): Pick<KeyRow, 'algo' | 'key_b64'> | undefined {
    return this.db
      .prepare(
        'SELECT k.algo, k.key_b64 FROM user_keys k JOIN users u ON u.name = k.user WHERE k.user = ? AND k.key_b64 = ? AND u.blocked = 0',
      )
      .get(user, blob.toString('base64')) as Pick<KeyRow, 'algo' | 'key_b64'> | undefined;
  }

  keys(user: string): KeyRow[] {
    return this.db.prepare('SELECT * FROM user_keys WHERE user = ? ORDER BY id').all(user) as KeyRow[];
  }

  /** True when the key was new for this user. */
  addKey(k: Omit<KeyRow, 'id'>): boolean {
    return (
      this.db
        .prepare('INSERT OR IGNORE INTO user_keys (user, algo, key_b64, comment, fingerprint) VALUES (?, ?, ?, ?, ?)')
        .run(k.user, k.algo, k.key_b64, k.comment, k.fingerprint).changes > 0
    );
  }

  removeKey(user: string, fingerprint: string): void {
    this.db.prepare('DELETE FROM user_keys WHERE user = ? AND fingerprint = ?').run(user, fingerprint);
  }

  removeAllKeys(user: string): void {
    this.db.prepare('DELETE FROM user_keys WHERE user = ?').run(user);
  }

  /** Marks (or clears) a user whose authorized_keys files may still hold keys dcm revoked. */
  setKeysUnsynced(name: string, unsynced: boolean): void {
    this.db.prepare('UPDATE users SET keys_unsynced = ? WHERE name = ?').run(unsynced ? 1 : 0, name);
  }

  /** Blocks (or unblocks) a user: every door refuses a blocked user's commands and logins. */
  setBlocked(name: string, blocked: boolean): void {
    this.db.prepare('UPDATE users SET blocked = ? WHERE name = ?').run(blocked ? 1 : 0, name);
  }

  /** Records the dcm-userdel now removing the user (JSON: options and owning process). */
  setDeletion(name: string, deletion: string): void {
    this.db.prepare('UPDATE users SET deletion = ? WHERE name = ?').run(deletion, name);
  }

  /** Users a dcm-userdel has begun to remove, with what it recorded. */
  beingDeleted(): { name: string; deletion: string }[] {
    return this.db.prepare('SELECT name, deletion FROM users WHERE deletion IS NOT NULL ORDER BY name').all() as {
      name: string;
      deletion: string;
    }[];
  }

  groups(user: string): string[] {
    return (this.db.prepare('SELECT grp FROM user_groups WHERE user = ? ORDER BY grp').all(user) as { grp: string }[]).map((r) => r.grp);
  }

  addToGroup(user: string, grp: string): void {
    this.db.prepare('INSERT OR IGNORE INTO groups (name) VALUES (?)').run(grp);
    this.db.prepare('INSERT OR IGNORE INTO user_groups (user, grp) VALUES (?, ?)').run(user, grp);
  }

  removeFromGroup(user: string, grp: string): void {
    this.db.prepare('DELETE FROM user_groups WHERE user = ? AND grp = ?').run(user, grp);
  }
}
