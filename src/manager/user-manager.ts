/**
 * Users: adding (row, keys, groups, storage with keys installed) and deleting
 * (containers, ports, images, storage), each reporting exactly what it did.
 */
import { execFileSync } from 'node:child_process';
import { DcmError } from '../errors.js';
import { checkUserName } from '../names.js';
import { keyLine, parsePublicKey, type PublicKey } from '../ssh-keys.js';
import { ensureUserDirs, removeUserDirs, userDirs } from '../storage/user-dirs.js';
import { storageOwners } from '../storage/id-map.js';
import type { UsernsRemap } from '../engine/engine.js';
import type { UserRow } from '../store/users-repo.js';
import type { Deps } from './deps.js';
import { removeUserNetwork, type NetworkRemoval } from './user-network.js';

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

export interface DelUserReport {
  user: string;
  containers: number[];
  images: string[];
  keptImages: string[];
  storage: string | null;
  /** The user's network; null when they never had one. */
  network: NetworkRemoval | null;
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
      const dirs = ensureUserDirs(config.storageDir, name, user.uid, user.gid, keys.map(keyLine), storageOwners(remap, user.uid, user.gid));
      store.audit.record({ actor: 'admin', action: 'useradd', target: name, ok: true });
      return { user, keys, groups, storage: { root: dirs.root, home: dirs.home } };
    } catch (e) {
      store.users.delete(name);
      if (e instanceof DcmError) throw e;
      throw new DcmError('internal', `could not create storage for ${name}: ${(e as Error).message}`);
    }
  }

  async del(nameText: string, opts: { keepImages: boolean; keepStorage: boolean }): Promise<DelUserReport> {
    const { store, engine, config } = this.deps;
    const name = this.get(nameText).name;
    const report: DelUserReport = { user: name, containers: [], images: [], keptImages: [], storage: null, network: null };
    for (const c of store.containers.byOwner(name)) {
      store.containers.setState(c.id, 'removing');
      if (c.docker_id) await engine.remove(c.docker_id, true);
      store.containers.delete(c.id);
      report.containers.push(c.id);
    }
    report.network = await removeUserNetwork(this.deps, name);
    for (const img of store.images.ownedBy(name)) {
      if (opts.keepImages) {
        report.keptImages.push(img.ref);
      } else {
        await engine.removeImage(img.ref);
        report.images.push(img.ref);
      }
      store.images.delete(img.ref);
    }
    if (!opts.keepStorage && removeUserDirs(config.storageDir, name)) report.storage = userDirs(config.storageDir, name).base;
    store.users.delete(name);
    store.audit.record({ actor: 'admin', action: 'userdel', target: name, ok: true, detail: JSON.stringify(report) });
    return report;
  }

  addKeys(name: string, lines: string[], remap: UsernsRemap | null = null): PublicKey[] {
    const { store, config } = this.deps;
    const user = this.get(name);
    const owners = storageOwners(remap, user.uid, user.gid);
    const keys = lines.map(parsePublicKey);
    const added = store.tx(() =>
      keys.filter((k) => store.users.addKey({ user: name, algo: k.algo, key_b64: k.b64, comment: k.comment, fingerprint: k.fingerprint })));
    try {
      ensureUserDirs(config.storageDir, name, user.uid, user.gid, keys.map(keyLine), owners);
    } catch (e) {
      // Keys the containers cannot see must not open dcm-server either.
      store.tx(() => added.forEach((k) => store.users.removeKey(name, k.fingerprint)));
      throw e;
    }
    return keys;
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
