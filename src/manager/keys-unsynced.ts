/**
 * A revocation whose authorized_keys files refused it. The database change is
 * kept (dcm-server stops taking the key at once), but the user's files may
 * still hold the key — the user is root in their containers and can plant a
 * link where .ssh should be — and a running container's sshd reads those
 * files. So dcm stops the user's containers and refuses to create or start
 * any until a later key write (dcm-admin users key NAME --sync) succeeds.
 */
import { DcmError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { Deps } from './deps.js';
import { afterStop } from './policy-hooks.js';

/** Refuses create and start for a user whose key files may still hold a revoked key. */
export function assertKeysInSync(store: Store, name: string): void {
  if (store.users.get(name)?.keys_unsynced) {
    throw new DcmError(
      'denied',
      `a key of ${name} was revoked but their authorized_keys files refused the change: no container can be created or started until the administrator repairs them`,
      `remove what was planted under the user's storage .ssh, then dcm-admin users key ${name} --sync`,
    );
  }
}

/** Stops every running or paused container of the user; returns the ids of those it stopped. */
export async function stopUserContainers(deps: Deps, name: string): Promise<number[]> {
  const { store, engine, config } = deps;
  const stopped: number[] = [];
  for (const row of store.containers.byOwner(name)) {
    if (!row.docker_id) continue;
    const st = await engine.inspect(row.docker_id).catch(() => null);
    if (!st || !['running', 'paused', 'restarting'].includes(st.state)) continue;
    await engine.stop(row.docker_id, config.engine.stop_timeout);
    afterStop(deps, row);
    stopped.push(row.id);
  }
  return stopped;
}
