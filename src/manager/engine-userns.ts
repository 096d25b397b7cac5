/**
 * What the engine's user namespace mode means for one container, checked on
 * the host right before it is created or started:
 *  - the user's uid/gid must exist inside the engine's user namespace;
 *  - their storage must belong to container root and to the user as the
 *    engine maps them (re-owned here when the engine's mode changed);
 *  - without user namespaces, a read-write policy mount must sit on a `nosuid`
 *    filesystem, or root in one container could leave a setuid-root program
 *    there for any host account to run.
 */
import { verifyStorageBinds } from '../storage/verify-binds.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixedParent } from '../policy/mount-template.js';
import type { PolicyFinding } from '../policy/policy-check.js';
import { DcmError } from '../errors.js';
import type { Engine, UsernsRemap } from '../engine/engine.js';
import { storageOwners, type StorageOwners } from '../storage/id-map.js';
import { setuidFacts } from '../storage/mount-flags.js';
import { reownUserDirs } from '../storage/reown.js';
import { assertKeysInSync } from './keys-unsynced.js';
import type { Config } from '../config.js';
import type { Deps } from './deps.js';

/** The engine's user namespace mapping (null: none); throws when the engine cannot be asked. */
export async function engineRemap(engine: Engine): Promise<UsernsRemap | null> {
  return (await engine.info()).usernsRemap;
}

/** Like engineRemap, but null when the engine is down: storage is re-owned at the next create or start anyway. */
export async function engineRemapOrNone(engine: Engine): Promise<UsernsRemap | null> {
  return engineRemap(engine).catch(() => null);
}

/** A read-write mount on a filesystem that honours setuid bits; null when it is safe. */
async function setuidHazard(source: string): Promise<string | null> {
  const f = await setuidFacts(source);
  if (f.setuidAllowed) return `${f.realPath} is on ${f.mountPoint}, mounted without nosuid`;
  if (f.setuidBelow.length) return `${f.realPath} holds ${f.setuidBelow.join(', ')}, mounted without nosuid`;
  return null;
}

/**
 * Before a create: uid in range, rw mounts safe, storage owned right.
 * Returns the storage's expected owners (for checking the bind paths).
 */
export async function prepareForCreate(
  deps: Deps,
  user: { name: string; uid: number; gid: number },
  mounts: { name: string; source: string; readOnly: boolean }[],
): Promise<StorageOwners> {
  const remap = await engineRemap(deps.engine);
  const owners = storageOwners(remap, user.uid, user.gid);
  if (!remap) {
    for (const m of mounts.filter((x) => !x.readOnly)) {
      const hazard = await setuidHazard(m.source);
      if (hazard) {
        throw new DcmError(
          'denied',
          `mount ${m.name} is refused: its host filesystem allows setuid programs; nothing was created (tell the administrator)`,
          `mount ${m.name}: ${hazard}; mount it nosuid, make it ro, or run the engine with userns-remap`,
        );
      }
    }
  }
  assertKeysInSync(deps.store, user.name); // a refused revocation holds the user's containers
  verifyStorageBinds(deps.config.storageDir, user.name, null); // no links before anything is re-owned
  reownUserDirs(deps.config.storageDir, user.name, owners);
  return owners;
}

/** Before a stopped container starts again: the storage may have been re-owned for another engine mode since. */
export async function prepareForStart(deps: Deps, user: { name: string; uid: number; gid: number }): Promise<StorageOwners> {
  const owners = storageOwners(await engineRemap(deps.engine), user.uid, user.gid);
  assertKeysInSync(deps.store, user.name); // a refused revocation holds the user's containers
  verifyStorageBinds(deps.config.storageDir, user.name, null); // no links before anything is re-owned
  reownUserDirs(deps.config.storageDir, user.name, owners);
  return owners;
}

/**
 * For `policy check`: every rw catalogue mount whose source allows setuid,
 * unless the engine remaps users. One line each, naming the mount. A source
 * that is missing or does not answer is left to create's own probe.
 */
export async function rwMountProblems(
  config: Pick<Config, 'mounts'>,
  remap: UsernsRemap | null,
  timeoutMs: number,
): Promise<PolicyFinding[]> {
  if (remap) return [];
  const out: PolicyFinding[] = [];
  for (const [name, m] of Object.entries(config.mounts)) {
    if (m.mode !== 'rw') continue;
    // A templated source (/home/{user}) is checked where every user's copy lies (/home, and any mount below it);
    // one that starts with {home} only at create, for the user's own home.
    const at = fixedParent(m.source);
    if (at === null) continue;
    const hazard = await Promise.race([setuidHazard(at).catch(() => null), sleep(timeoutMs, null, { ref: false })]);
    if (hazard)
      out.push({
        level: 'error',
        field: `mounts.${name}`,
        message: `rw, but ${hazard}: users who are root in their containers could leave setuid-root programs there; mount it nosuid, make it ro, or run the engine with userns-remap`,
      });
  }
  return out;
}
