/** The store: one database handle and a repository per table. */
import { openDb, immediate, type Db, type OpenOptions } from './db.js';
import { UsersRepo } from './users-repo.js';
import { ContainersRepo } from './containers-repo.js';
import { ImagesRepo } from './images-repo.js';
import { AuditRepo } from './audit-repo.js';
import { PolicyRepo } from './policy-repo.js';
import { InstallationRepo } from './installation-repo.js';
import { ClaimsRepo } from './claims-repo.js';

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

  constructor(readonly db: Db) {
    this.users = new UsersRepo(db);
    this.containers = new ContainersRepo(db);
    this.images = new ImagesRepo(db);
    this.audit = new AuditRepo(db);
    this.policy = new PolicyRepo(db);
    this.installation = new InstallationRepo(db);
    this.claims = new ClaimsRepo(db);
  }

  static open(file: string, opts?: OpenOptions): Store {
    return new Store(openDb(file, opts));
  }

  /** BEGIN IMMEDIATE transaction: use for every check-then-allocate. */
  tx<T>(fn: () => T): T {
    return immediate(this.db, fn);
  }

  close(): void {
    this.db.close();
  }
}
