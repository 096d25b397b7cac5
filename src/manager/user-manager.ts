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

export type { DelUserReport };

/**
 * Refuses a user whom dcm-userdel has blocked. Called by every door's command
 * path and inside the create transaction, so that nothing new is made for a
 * user whose things are being removed.
 */
export function assertNotBlocked(store: Store, name: string): void {
  if (store.users.get(name)?.blocked) {
    throw new DcmError('denied', `the account ${name} is being deleted by the administrator; no commands are accepted`);
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

  /** `remap`: the engine's user namespace mapping (engineRemap()), which decides the storage's host owners. */
  add(req: AddUserRequest, remap: UsernsRemap | null = null): AddUserReport {
    const { store, config } = this.deps;
    const name = checkUserName(req.name);
    if (req.keys.length === 0) throw new DcmError('usage', 'at least one --key is needed: the user logs in with it');
    const keys = req.keys.map(parsePublicKey);
    const groups = req.groups.map((g) => checkUserName(g));
    const host = hostAccount(name);
    const user = store.tx(() => {
      if (store.users.get(name)) throw new DcmError('conflict', `user ${name} already exists`);
      const ids = host ?? this.nextId();
      if (store.users.uidTaken(ids.uid)) throw new DcmError('conflict', `uid ${ids.uid} of host account ${name} is already used by another dcm user`);
      storageOwners(remap, ids.uid, ids.gid); // refuses a uid the engine's user namespace cannot hold
      store.users.insert({ name, uid: ids.uid, gid: ids.gid });
      for (const k of keys) store.users.addKey({ user: name, algo: k.algo, key_b64: k.b64, comment: k.comment, fingerprint: k.fingerprint });
      for (const g of groups) store.users.addToGroup(name, g);
      return store.users.get(name)!;
    });
    try {
      // Storage kept from an earlier user of this name gets exactly the new keys.
      const dirs = ensureUserDirs(config.storageDir, name, user.uid, user.gid, { add: keys.map(keyLine), replace: true }, storageOwners(remap, user.uid, user.gid));
      store.audit.record({ actor: 'admin', action: 'useradd', target: name, ok: true });
      return { user, keys, groups, storage: { root: dirs.root, home: dirs.home } };
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
    this.changeKeys(name, () => {
      for (const k of keys) this.insertKey(name, k);
    }, { add: keys.map(keyLine) }, remap);
    return keys;
  }

  /** Revokes one key: from dcm logins and from every line that carries it in the storage. */
  removeKey(name: string, fingerprint: string, remap: UsernsRemap | null = null): KeyRow {
    const row = this.deps.store.users.keys(this.get(name).name).find((k) => k.fingerprint === fingerprint);
    if (!row) throw new DcmError('not-found', `${name} has no key ${fingerprint} (list them with dcm-admin users key ${name})`);
    this.changeKeys(name, () => this.deps.store.users.removeKey(name, fingerprint), { add: [], remove: [row.key_b64] }, remap);
    return row;
  }

  /** Replaces all keys: dcm logins and both authorized_keys files hold exactly these afterwards. */
  setKeys(name: string, lines: string[], remap: UsernsRemap | null = null): PublicKey[] {
    const keys = lines.map(parsePublicKey);
    if (keys.length === 0) throw new DcmError('usage', '--set needs at least one key (use --rm to take keys away)');
    this.changeKeys(name, () => {
      this.deps.store.users.removeAllKeys(name);
      for (const k of keys) this.insertKey(name, k);
    }, { add: keys.map(keyLine), replace: true }, remap);
    return keys;
  }

  /**
   * Changes the database and then the files; when the files refuse (a link
   * where .ssh should be), the database gets its old keys back, so dcm-server
   * and the containers never disagree about what opens the account.
   */
  private changeKeys(name: string, changeDb: () => void, change: KeyChange, remap: UsernsRemap | null): void {
    const { store, config } = this.deps;
    const user = this.get(name);
    const owners = storageOwners(remap, user.uid, user.gid); // refuses a uid the engine's user namespace cannot hold
    const before = store.users.keys(user.name);
    store.tx(changeDb);
    try {
      ensureUserDirs(config.storageDir, user.name, user.uid, user.gid, change, owners);
    } catch (e) {
      store.tx(() => {
        store.users.removeAllKeys(user.name);
        for (const k of before) store.users.addKey({ user: k.user, algo: k.algo, key_b64: k.key_b64, comment: k.comment, fingerprint: k.fingerprint });
      });
      throw e;
    }
    store.audit.record({ actor: 'admin', action: 'keys', target: user.name, ok: true, detail: JSON.stringify(change) });
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
