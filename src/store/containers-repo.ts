/** containers and their port_allocations. The container id is its SSH port. */
import type { Db } from './db.js';

export type RowState = 'creating' | 'created' | 'removing';

export interface ContainerRow {
  id: number;
  owner: string;
  name: string | null;
  docker_id: string | null;
  image_ref: string;
  image_id: string;
  ip: string;
  instance: string;
  state: RowState;
  created_at: string;
  /** The process doing the create or remove in flight (store/work-owner.ts); null when none does. */
  work_owner: string | null;
  /** When that work began (ms since the epoch), for work that began after the insert; else null (migration 0010). */
  work_since?: number | null;
  /** 1 once reconcile found dcm's restart policy on a container made before dcm labelled it (migration 0010). */
  restart_policy_known?: number;
  /** A batch job's JSON (JobFacts, manager/job-facts.ts); null for a container made by `create`. */
  job: string | null;
  /** 1: a job started with --rm; the engine removes its container when it ends, and the row goes too. */
  auto_remove: number;
}

export interface PortRow {
  ip: string;
  port: number;
  container_id: number;
  container_port: number;
  kind: 'ssh' | 'extra';
}

export class ContainersRepo {
  constructor(private readonly db: Db) {}

  byOwner(owner: string): ContainerRow[] {
    return this.db.prepare('SELECT * FROM containers WHERE owner = ? ORDER BY id').all(owner) as ContainerRow[];
  }

  all(): ContainerRow[] {
    return this.db.prepare('SELECT * FROM containers ORDER BY id').all() as ContainerRow[];
  }

  get(id: number): ContainerRow | undefined {
    return this.db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as ContainerRow | undefined;
  }

  /** Lookups scoped to an owner: the only way a user-supplied reference is resolved. */
  ownedById(owner: string, id: number): ContainerRow | undefined {
    return this.db.prepare('SELECT * FROM containers WHERE owner = ? AND id = ?').get(owner, id) as ContainerRow | undefined;
  }

  ownedByName(owner: string, name: string): ContainerRow | undefined {
    return this.db.prepare('SELECT * FROM containers WHERE owner = ? AND name = ?').get(owner, name) as ContainerRow | undefined;
  }

  ownedByDockerPrefix(owner: string, prefix: string): ContainerRow[] {
    return this.db
      .prepare("SELECT * FROM containers WHERE owner = ? AND docker_id LIKE ? || '%' ESCAPE '\\'")
      .all(owner, prefix) as ContainerRow[];
  }

  byDockerId(dockerId: string): ContainerRow | undefined {
    return this.db.prepare('SELECT * FROM containers WHERE docker_id = ?').get(dockerId) as ContainerRow | undefined;
  }

  insert(
    r: Pick<ContainerRow, 'id' | 'owner' | 'name' | 'image_ref' | 'image_id' | 'ip' | 'instance'> &
      Partial<Pick<ContainerRow, 'work_owner' | 'job' | 'auto_remove'>>,
  ): void {
    this.db
      .prepare(`INSERT INTO containers (id, owner, name, image_ref, image_id, ip, instance, state, work_owner, job, auto_remove)
                VALUES (@id, @owner, @name, @image_ref, @image_id, @ip, @instance, 'creating', @work_owner, @job, @auto_remove)`)
      .run({ work_owner: null, job: null, auto_remove: 0, ...r });
  }

  setDockerId(id: number, dockerId: string): void {
    this.db.prepare('UPDATE containers SET docker_id = ? WHERE id = ?').run(dockerId, id);
  }

  setState(id: number, state: RowState): void {
    this.db.prepare('UPDATE containers SET state = ? WHERE id = ?').run(state, id);
  }

  /** State and the process now working on the row (null: none; reconcile finishes it), from now. */
  setStateOwned(id: number, state: RowState, workOwner: string | null): void {
    this.db
      .prepare('UPDATE containers SET state = ?, work_owner = ?, work_since = ? WHERE id = ?')
      .run(state, workOwner, workOwner === null ? null : Date.now(), id);
  }

  /** Reconcile found dcm's restart policy on this (unlabelled) container: it is not asked again. */
  setRestartPolicyKnown(id: number): void {
    this.db.prepare('UPDATE containers SET restart_policy_known = 1 WHERE id = ?').run(id);
  }

  /** Deletes the row; its port allocations go with it (ON DELETE CASCADE). */
  delete(id: number): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }

  /**
   * Deletes the row only while it is still the one read earlier (same owner,
   * same Docker id): an id freed meanwhile may already name another user's
   * container. Returns whether it deleted.
   */
  deleteIfSame(row: { id: number; owner: string; docker_id: string | null }): boolean {
    return (
      this.db.prepare('DELETE FROM containers WHERE id = ? AND owner = ? AND docker_id IS ?').run(row.id, row.owner, row.docker_id)
        .changes > 0
    );
  }

  countByOwner(owner: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM containers WHERE owner = ?').get(owner) as { n: number }).n;
  }

  usingImage(imageId: string): ContainerRow[] {
    return this.db.prepare('SELECT * FROM containers WHERE image_id = ?').all(imageId) as ContainerRow[];
  }

  ports(containerId: number): PortRow[] {
    return this.db.prepare('SELECT * FROM port_allocations WHERE container_id = ? ORDER BY kind DESC, port').all(containerId) as PortRow[];
  }

  allPorts(): PortRow[] {
    return this.db.prepare('SELECT * FROM port_allocations ORDER BY ip, port').all() as PortRow[];
  }

  portsOnIp(ip: string): Set<number> {
    const rows = this.db.prepare('SELECT port FROM port_allocations WHERE ip = ?').all(ip) as { port: number }[];
    return new Set(rows.map((r) => r.port));
  }

  /** All container ids in use (an SSH port is an id on every IP alias). */
  ids(): Set<number> {
    return new Set((this.db.prepare('SELECT id FROM containers').all() as { id: number }[]).map((r) => r.id));
  }

  addPort(p: PortRow): void {
    this.db
      .prepare(
        'INSERT INTO port_allocations (ip, port, container_id, container_port, kind) VALUES (@ip, @port, @container_id, @container_port, @kind)',
      )
      .run(p);
  }
}
