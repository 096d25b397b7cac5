/**
 * The store: one database handle, kept private, and a repository per table.
 * Every query lives in a repository, so no layer above writes SQL.
 */
import { openDb, immediate, integrityCheck, onlineCopy, type Db, type OpenOptions } from './db.js';
import { UsersRepo } from './users-repo.js';
import { ContainersRepo } from './containers-repo.js';
import { ImagesRepo } from './images-repo.js';
import { AuditRepo } from './audit-repo.js';
import { PolicyRepo } from './policy-repo.js';
import { InstallationRepo } from './installation-repo.js';
import { ClaimsRepo } from './claims-repo.js';
import { NetworksRepo } from './networks-repo.js';
import { SshPortCursor } from './port-cursor.js';

export class Store {
  readonly users: UsersRepo;
  readonly containers: ContainersRepo;
  readonly images: ImagesRepo;
  readonly audit: AuditRepo;
  readonly policy: PolicyRepo;
  /** This installation's id (dcm.installation label, part of Docker names). */
  readonly installation: InstallationRepo;
  /** Starts and commits in flight, for the quotas that must count them. */
  readonly claims: ClaimsRepo;
  /** Users' bridge networks and their subnets. */
  readonly networks: NetworksRepo;
  /** The SSH port handed out last; the next create starts after it. */
  readonly sshPortCursor: SshPortCursor;

  /** Private at run time too: a query belongs in a repository, not in a caller. */
  readonly #db: Db;

  private constructor(db: Db) {
    this.#db = db;
    this.users = new UsersRepo(db);
    this.containers = new ContainersRepo(db);
    this.images = new ImagesRepo(db);
    this.audit = new AuditRepo(db);
    this.policy = new PolicyRepo(db);
    this.installation = new InstallationRepo(db);
    this.claims = new ClaimsRepo(db);
    this.networks = new NetworksRepo(db);
    this.sshPortCursor = new SshPortCursor(db);
  }

  /** The database file, named in messages about a full disk or a read-only database. */
  get path(): string {
    return this.#db.name;
  }

  static open(file: string, opts?: OpenOptions): Store {
    return new Store(openDb(file, opts));
  }

  /** BEGIN IMMEDIATE transaction: use for every check-then-allocate. */
  tx<T>(fn: () => T): T {
    return immediate(this.#db, fn);
  }

  /**
   * A consistent copy of the database into `file` (a new or empty file),
   * taken with SQLite's online backup while other processes go on writing.
   * dcm-admin backup (backup.ts) makes it private and atomic.
   */
  copyTo(file: string): Promise<void> {
    return onlineCopy(this.#db, file);
  }

  /** SQLite's integrity_check: "ok", or its findings joined. */
  integrityCheck(): string {
    return integrityCheck(this.#db);
  }

  close(): void {
    this.#db.close();
  }
}
