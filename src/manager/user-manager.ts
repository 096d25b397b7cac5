/**
 * Users: adding (row, keys, groups, storage with keys installed), changing
 * keys, and deleting (block, containers, ports, images, storage), each
 * reporting exactly what it did.
 */
import { execFileSync } from 'node:child_process';
import { DcmError } from '../errors.js';
import { checkUserName } from '../names.js';
import { keyLine, parsePublicKey, type PublicKey } from '../ssh-keys.js';
import { ensureUserDirs } from '../storage/user-dirs.js';
import type { KeyChange } from '../storage/authorized-keys.js';
import type { Store } from '../store/store.js';
import type { KeyRow, UserRow } from '../store/users-repo.js';
import type { Deps } from './deps.js';
import { storageOwners } from '../storage/id-map.js';
import type { UsernsRemap } from '../engine/engine.js';
import { deleteUser, type DelUserReport } from './delete-user.js';
import { stopUserContainers } from './keys-unsynced.js';
import { accountView, type AccountView } from './account-view.js';
import { gpuView, type GpuView } from './gpu-view.js';
import type { ContainerManager } from './container-manager.js';
import { myWorkOwner } from '../store/work-owner.js';
import { pausePointSync } from './pause-point.js';
import { unfinishedAddition } from './crashed-useradd.js';

export type { DelUserReport };

/**
 * Refuses a user whom dcm-userdel has blocked. Called by every door's command
 * path and inside the create transaction, so that nothing new is made for a
 * user whose things are being removed.
 */
export function assertNotBlocked(store: Store, name: string): void {
  const row = store.users.get(name);
  if (row) assertRowNotBlocked(row);
}

/** assertNotBlocked for a row the caller has just read (no second query). */
export function assertRowNotBlocked(user: UserRow): void {
  if (user.blocked && user.addition !== null && user.deletion === null) {
    throw new DcmError('denied', `the account ${user.name} is still being set up by the administrator; try again shortly`);
  }
  if (user.blocked) {
    throw new DcmError('denied', `the account ${user.name} is being deleted by the administrator; no commands are accepted`);
  }
}

export interface AddUserRequest {
  name: string;
  /** authorized_keys lines (already read from files by the caller). */
  keys: string[];
  groups: string[];
}

export interface AddUserReport {
  user: UserRow;
  keys: PublicKey[];
  groups: string[];
  storage: { root: string; home: string };
}

export class UserManager {
  constructor(private readonly deps: Deps) {}

  get(name: string): UserRow {
    const u = this.deps.store.users.get(name);
    if (!u) throw new DcmError('not-found', `no such dcm user: ${name}`);
    return u;
  }

  /** What `whoami` shows; `containers` counts the user's containers as the engine shows them. */
  async account(user: UserRow, containers: Pick<ContainerManager, 'list'>): Promise<AccountView> {
    return accountView(this.deps, user, await containers.list(user.name));
  }

  /** What `gpus` shows: the inventory as this user may see it. */
  gpus(user: string): GpuView {
    return gpuView(this.deps, user);
  }

  /** `remap`: the engine's user namespace mapping (engineRemap()), which decides the storage's host owners. */
  add(req: AddUserRequest, remap: UsernsRemap | null = null): AddUserReport {
    const { store, config } = this.deps;
    const name = checkUserName(req.name);
    if (req.keys.length === 0) throw new DcmError('usage', 'at least one --key is needed: the user logs in with it');
    const keys = req.keys.map(parsePublicKey);
    const groups = req.groups.map((g) => checkUserName(g));
    const host = hostAccount(name);
    // The row is inserted blocked and marked as this process's addition
    // (migration 0010): if this process dies before the storage and keys are
    // in place, no door lets the user in, and reconcile finishes the job.
    const user = store.tx(() => {
      const had = store.users.get(name);
      if (had) throw new DcmError('conflict', had.addition !== null ? unfinishedAddition(name) : `user ${name} already exists`);
      const ids = host ?? this.nextId();
      if (store.users.uidTaken(ids.uid))
        throw new DcmError('conflict', `uid ${ids.uid} of host account ${name} is already used by another dcm user`);
      storageOwners(remap, ids.uid, ids.gid); // refuses a uid the engine's user namespace cannot hold
      store.users.insert({ name, uid: ids.uid, gid: ids.gid, addition: JSON.stringify({ owner: myWorkOwner() }) });
      for (const k of keys)
        store.users.addKey({ user: name, algo: k.algo, key_b64: k.b64, comment: k.comment, fingerprint: k.fingerprint });
      for (const g of groups) store.users.addToGroup(name, g);
      return store.users.get(name)!;
    });
    pausePointSync('useradd:after-row');
    try {
      // Storage kept from an earlier user of this name gets exactly the new keys.
      const dirs = ensureUserDirs(
        config.storageDir,
        name,
        user.uid,
        user.gid,
        { add: keys.map(keyLine), replace: true },
        storageOwners(remap, user.uid, user.gid),
        () => pausePointSync('useradd:after-dirs'),
      );
      pausePointSync('useradd:after-keys');
      store.users.finishAddition(name);
      store.audit.record({ actor: 'admin', action: 'useradd', target: name, ok: true });
      return { user: store.users.get(name)!, keys, groups, storage: { root: dirs.root, home: dirs.home } };
    } catch (e) {
      store.users.delete(name);
      if (e instanceof DcmError) throw e;
      throw new DcmError('internal', `could not create storage for ${name}: ${(e as Error).message}`);
    }
  }

  del(nameText: string, opts: { keepImages: boolean; keepStorage: boolean }): Promise<DelUserReport> {
    return deleteUser(this.deps, this.get(nameText).name, opts);
  }

  /** Adds keys: database first, then both authorized_keys files (all or nothing); undone when the files refuse. */
  addKeys(name: string, lines: string[], remap: UsernsRemap | null = null): PublicKey[] {
    const keys = lines.map(parsePublicKey);
    this.changeKeys(
      name,
      () => {
        for (const k of keys) this.insertKey(name, k);
      },
      { add: keys.map(keyLine) },
      remap,
    );
    return keys;
  }

  /**
   * Revokes keys (all in one change): from dcm logins and from every line
   * that carries them in the storage. The revocation stands even when the
   * files refuse it (see revoke).
   */
  async removeKeys(name: string, fingerprints: string[], remap: UsernsRemap | null = null): Promise<KeyRow[]> {
    const have = this.deps.store.users.keys(this.get(name).name);
    const rows = fingerprints.map((fp) => {
      const row = have.find((k) => k.fingerprint === fp);
      if (!row) throw new DcmError('not-found', `${name} has no key ${fp} (list them with dcm-admin users key ${name})`);
      return row;
    });
    const what = `${rows.length > 1 ? 'keys' : 'key'} ${rows.map((r) => r.fingerprint).join(', ')} revoked`;
    await this.revoke(
      name,
      what,
      () => {
        for (const r of rows) this.deps.store.users.removeKey(name, r.fingerprint);
      },
      { add: [], remove: rows.map((r) => r.key_b64) },
      remap,
    );
    return rows;
  }

  /** Replaces all keys: dcm logins and both authorized_keys files hold exactly these afterwards. */
  async setKeys(name: string, lines: string[], remap: UsernsRemap | null = null): Promise<PublicKey[]> {
    const keys = lines.map(parsePublicKey);
    if (keys.length === 0) throw new DcmError('usage', '--set needs at least one key (use --rm to take keys away)');
    await this.revoke(
      name,
      'keys replaced',
      () => {
        this.deps.store.users.removeAllKeys(name);
        for (const k of keys) this.insertKey(name, k);
      },
      { add: keys.map(keyLine), replace: true },
      remap,
    );
    return keys;
  }

  /**
   * Makes both authorized_keys files hold exactly the keys dcm has for the
   * user (lines anyone else added go), and lifts the hold a refused
   * revocation put on their containers.
   */
  syncKeys(name: string, remap: UsernsRemap | null = null): KeyRow[] {
    const user = this.get(name);
    this.changeKeys(user.name, () => undefined, { add: [], replace: true }, remap);
    return this.deps.store.users.keys(user.name);
  }

  /**
   * A removal: the database change is committed whatever the files say, so
   * dcm-server refuses the key at once. When the files refuse, the user's
   * containers are stopped and held (keys-unsynced.ts) and the admin is told
   * in one line what was refused and what to do.
   */
  private async revoke(name: string, what: string, changeDb: () => void, change: KeyChange, remap: UsernsRemap | null): Promise<void> {
    try {
      this.changeKeys(name, changeDb, change, remap, true);
    } catch (e) {
      if (!(e instanceof KeyFilesRefused)) throw e;
      const stopped = await stopUserContainers(this.deps, name).catch((err: unknown) => {
        throw new DcmError(
          'conflict',
          `${what} in dcm logins, but ${e.reason}; stopping ${name}'s containers FAILED (${(err as Error).message}): stop them (docker stop), remove it and run dcm-admin users key ${name} --sync`,
        );
      });
      this.deps.store.audit.record({
        actor: 'admin',
        action: 'keys-refused',
        target: name,
        ok: false,
        detail: JSON.stringify({ change, reason: e.reason, stopped }),
      });
      const held = stopped.length ? `containers stopped (${stopped.join(', ')}) and` : 'containers';
      throw new DcmError(
        'conflict',
        `${what} in dcm logins, but ${e.reason}; ${name}'s ${held} held until you remove it and run dcm-admin users key ${name} --sync`,
      );
    }
  }

  /**
   * Changes the database and then the files. When the files refuse (a link
   * where .ssh should be): an addition gets the old keys back in the
   * database; a removal (`removal`) stays, and the user stays marked
   * keys_unsynced (set with the removal itself). While marked, every write makes the files hold exactly
   * the database's keys, since they may still carry any revoked key; the
   * first one that succeeds clears the mark.
   */
  private changeKeys(name: string, changeDb: () => void, change: KeyChange, remap: UsernsRemap | null, removal = false): void {
    const { store, config } = this.deps;
    const user = this.get(name);
    const before = store.users.keys(user.name);
    // A removal holds the user's containers in the same transaction: a crash
    // before the files are written leaves them held, never open to the key.
    store.tx(() => {
      changeDb();
      if (removal) store.users.setKeysUnsynced(user.name, true);
    });
    const exact = user.keys_unsynced === 1 || change.replace === true;
    const write: KeyChange = exact ? { add: store.users.keys(user.name).map(rowLine), replace: true } : change;
    try {
      const owners = storageOwners(remap, user.uid, user.gid); // refuses a uid the engine's user namespace cannot hold
      ensureUserDirs(config.storageDir, user.name, user.uid, user.gid, write, owners);
    } catch (e) {
      if (removal) {
        // The storage's own advice (retry from inside a container) does not fit here: the containers are held.
        throw new KeyFilesRefused((e instanceof DcmError ? e.userMessage : (e as Error).message).replace(/ \(remove it[^)]*\)$/, ''));
      }
      store.tx(() => {
        store.users.removeAllKeys(user.name);
        for (const k of before)
          store.users.addKey({ user: k.user, algo: k.algo, key_b64: k.key_b64, comment: k.comment, fingerprint: k.fingerprint });
      });
      throw e;
    }
    if (user.keys_unsynced || removal) store.users.setKeysUnsynced(user.name, false);
    store.audit.record({ actor: 'admin', action: 'keys', target: user.name, ok: true, detail: JSON.stringify(write) });
  }

  private insertKey(name: string, k: PublicKey): void {
    this.deps.store.users.addKey({ user: name, algo: k.algo, key_b64: k.b64, comment: k.comment, fingerprint: k.fingerprint });
  }

  /** Lowest free id after the highest one used in the configured range. */
  private nextId(): { uid: number; gid: number } {
    const { lo, hi } = this.deps.config.uidRange;
    const max = this.deps.store.users.maxUidIn(lo, hi);
    const uid = max === undefined ? lo : max + 1;
    if (uid > hi) throw new DcmError('limit', `no free uid left in ${lo}-${hi} (storage.uid_range)`);
    return { uid, gid: uid };
  }
}

/** The files refused a key change; `reason` is the one line saying what was refused. */
class KeyFilesRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const rowLine = (k: KeyRow): string => keyLine({ algo: k.algo, b64: k.key_b64, comment: k.comment });

/** uid/gid of an existing host account of the same name, so storage is theirs on the host too. */
function hostAccount(name: string): { uid: number; gid: number } | null {
  try {
    const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const f = line.trim().split(':');
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    return Number.isInteger(uid) && Number.isInteger(gid) && uid > 0 ? { uid, gid } : null;
  } catch {
    return null;
  }
}
