/**
 * user_networks: one bridge network per user, with the subnet dcm chose for
 * it. Compare-and-set updates (on claim or docker_id) keep several dcm
 * processes from overwriting each other's work.
 */
import type { Db } from './db.js';

export interface NetworkRow {
  id: number;
  owner: string;
  name: string;
  token: string;
  subnet: string;
  docker_id: string | null;
  state: 'active' | 'removing';
  claim: string | null;
  claim_until: number;
  created_at: string;
}

export class NetworksRepo {
  constructor(private readonly db: Db) {}

  /** The user's network in use, if any. */
  active(owner: string): NetworkRow | undefined {
    return this.db.prepare("SELECT * FROM user_networks WHERE owner = ? AND state = 'active'").get(owner) as NetworkRow | undefined;
  }

  all(): NetworkRow[] {
    return this.db.prepare('SELECT * FROM user_networks ORDER BY id').all() as NetworkRow[];
  }

  subnets(): string[] {
    return (this.db.prepare('SELECT subnet FROM user_networks').all() as { subnet: string }[]).map((r) => r.subnet);
  }

  nextId(): number {
    return ((this.db.prepare('SELECT MAX(id) m FROM user_networks').get() as { m: number | null }).m ?? 0) + 1;
  }

  insert(r: Pick<NetworkRow, 'id' | 'owner' | 'name' | 'token' | 'subnet' | 'claim' | 'claim_until'>): void {
    this.db
      .prepare(`INSERT INTO user_networks (id, owner, name, token, subnet, state, claim, claim_until)
                VALUES (@id, @owner, @name, @token, @subnet, 'active', @claim, @claim_until)`)
      .run(r);
  }

  /**
   * Take (or keep) a row nobody else is making now: no docker id, and their
   * lease expired, or their claim is `dead` (its process is gone).
   */
  claim(id: number, claim: string, until: number, now: number, dead: string | null = null): boolean {
    return (
      this.db
        .prepare(
          `UPDATE user_networks SET claim = @claim, claim_until = @until
           WHERE id = @id AND docker_id IS NULL AND (claim_until <= @now OR claim = @claim OR (@dead IS NOT NULL AND claim = @dead))`,
        )
        .run({ claim, until, id, now, dead }).changes === 1
    );
  }

  /** A new subnet (and name, token) for a row whose block the engine refused. */
  renew(id: number, claim: string, r: Pick<NetworkRow, 'name' | 'token' | 'subnet'>): boolean {
    return (
      this.db
        .prepare(
          'UPDATE user_networks SET name = @name, token = @token, subnet = @subnet WHERE id = @id AND claim = @claim AND docker_id IS NULL',
        )
        .run({ ...r, id, claim }).changes === 1
    );
  }

  /** Record the engine's id; only the holder of the claim may. */
  setDockerId(id: number, claim: string, dockerId: string): boolean {
    return (
      this.db
        .prepare('UPDATE user_networks SET docker_id = ?, claim = NULL, claim_until = 0 WHERE id = ? AND claim = ? AND docker_id IS NULL')
        .run(dockerId, id, claim).changes === 1
    );
  }

  /** Record the engine's id of a row no process claims (reconcile found its network). */
  recordDockerId(id: number, dockerId: string): boolean {
    return (
      this.db.prepare('UPDATE user_networks SET docker_id = ? WHERE id = ? AND claim IS NULL AND docker_id IS NULL').run(dockerId, id)
        .changes === 1
    );
  }

  /** Give up a claim after a failure, so the next create may try at once. */
  release(id: number, claim: string): void {
    this.db.prepare('UPDATE user_networks SET claim = NULL, claim_until = 0 WHERE id = ? AND claim = ?').run(id, claim);
  }

  /** The engine lost the network (removed behind dcm's back): make it again. */
  forgetDockerId(id: number, dockerId: string): void {
    this.db.prepare('UPDATE user_networks SET docker_id = NULL WHERE id = ? AND docker_id = ?').run(id, dockerId);
  }

  setRemoving(id: number): void {
    this.db.prepare("UPDATE user_networks SET state = 'removing' WHERE id = ?").run(id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM user_networks WHERE id = ?').run(id);
  }
}
