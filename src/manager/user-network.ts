/**
 * Each user's containers live on a bridge network of their own, so that
 * containers of different users cannot reach each other (Docker's
 * DOCKER-ISOLATION chains drop traffic between bridge networks), while a
 * user's own containers can. The network is made at the user's first create,
 * with a subnet dcm takes from network.user_subnets, and removed with the user.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DcmError } from '../errors.js';
import { LABEL_NETWORK, installationFilter, namePrefix, networkLabels } from '../engine/labels.js';
import { chooseSubnet, formatCidr, parseCidr, parseProcRoutes, type Cidr } from '../net/user-subnets.js';
import type { NetworksRepo, NetworkRow } from '../store/networks-repo.js';
import type { UserRow } from '../store/users-repo.js';
import type { Deps } from './deps.js';
import { myWorkOwner, workOwnerAlive } from '../store/work-owner.js';
import { pausePoint } from './pause-point.js';

/**
 * How long a claim on a network being made holds without being renewed: the
 * holder renews it every LEASE_MS / 4 while the engine works (a network
 * create takes well over LEASE_MS on a busy engine), so it runs out only when
 * the holder's process died or hangs, and only then may another take over.
 */
const LEASE_MS = 20_000;
const RENEW_MS = LEASE_MS / 4;
/**
 * How long a parallel create waits for the network another process is making.
 * A user's first creates all arrive at once (10 in a 9 a.m. burst); under a
 * busy engine making the network can take well over 30 s, and a create that
 * waits is better than one refused ("try again") only because it came second.
 */
const WAIT_MS = 180_000;
const POLL_MS = 100;
/** Blocks the engine may refuse (taken by networks dcm does not know) before giving up. */
const MAX_REFUSED = 8;

type Step = { kind: 'ready' | 'wait'; row: NetworkRow } | { kind: 'mine'; row: NetworkRow };

/**
 * Calls in flight in this process, per store and user: the creates of one
 * user that arrive together (dcm-server runs them all in one process) share
 * one look-up, instead of each polling the database while one of them works.
 */
const inFlight = new WeakMap<object, Map<string, Promise<string>>>();

/**
 * The name of the user's network, made first if needed. Safe to call from
 * several processes at once: one makes it, the others wait for it.
 * `routes` gives the host's routes, whose blocks are never handed out.
 */
export function ensureUserNetwork(deps: Deps, user: UserRow, routes: () => Cidr[] = readHostRoutes): Promise<string> {
  const mine = inFlight.get(deps.store) ?? new Map<string, Promise<string>>();
  inFlight.set(deps.store, mine);
  const running = mine.get(user.name);
  if (running) return running;
  const p = ensureOnce(deps, user, routes).finally(() => mine.delete(user.name));
  mine.set(user.name, p);
  return p;
}

async function ensureOnce(deps: Deps, user: UserRow, routes: () => Cidr[]): Promise<string> {
  const { store, engine } = deps;
  const repo = store.networks;
  const current = repo.active(user.name);
  if (current?.docker_id) {
    if (await engine.inspectNetwork(current.docker_id)) return current.name;
    // Removed behind dcm's back (e.g. `docker network prune`): make it again, same subnet.
    store.tx(() => repo.forgetDockerId(current.id, current.docker_id!));
  }
  // This call's claim names its process, so that a claim left by a process
  // that died is taken over at once instead of after the lease (claimDead).
  const me = `${myWorkOwner()}#${randomBytes(4).toString('hex')}`;
  const refused: Cidr[] = [];
  let taken: Cidr[] | null = null;
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    taken ??= await takenElsewhere(deps, routes);
    const busy = [...taken, ...refused];
    const step = store.tx((): Step => {
      const now = Date.now();
      const row = repo.active(user.name);
      if (row?.docker_id) return { kind: 'ready', row };
      if (row) {
        const dead = row.claim !== null && claimDead(row.claim) ? row.claim : null;
        return repo.claim(row.id, me, now + LEASE_MS, now, dead) ? { kind: 'mine', row } : { kind: 'wait', row };
      }
      const fresh: NetworkRow = {
        ...newIdentity(deps, user.name, pickSubnet(deps, repo, busy)),
        id: repo.nextId(),
        owner: user.name,
        docker_id: null,
        state: 'active',
        claim: me,
        claim_until: now + LEASE_MS,
        created_at: '',
      };
      repo.insert(fresh);
      return { kind: 'mine', row: fresh };
    });
    if (step.kind === 'ready') return step.row.name;
    if (step.kind === 'wait') {
      if (Date.now() > deadline) throw new DcmError('unavailable', 'your network is still being set up by another command; try again');
      await new Promise((r) => setTimeout(r, POLL_MS));
      continue;
    }
    const row = step.row;
    await pausePoint('network:after-row');
    let id: string;
    try {
      id = await whileClaimed(deps, row.id, me, () => makeOrAdopt(deps, row));
      await pausePoint('network:after-engine-create');
    } catch (e) {
      if (!(e instanceof DcmError && e.code === 'conflict') || refused.length >= MAX_REFUSED) {
        store.tx(() => repo.release(row.id, me));
        throw e;
      }
      // Another installation or the admin took this block (or name) meanwhile:
      // move the row to another block and try again.
      refused.push(parseCidr(row.subnet)!);
      taken = null;
      const again = await takenElsewhere(deps, routes);
      store.tx(() => repo.renew(row.id, me, newIdentity(deps, user.name, pickSubnet(deps, repo, [...again, ...refused]))));
      continue;
    }
    if (store.tx(() => repo.setDockerId(row.id, me, id))) return row.name;
    // Our claim was taken over (this process stalled past the lease). When the
    // row still names our network, the taker adopts it by its token; when the
    // taker moved the row to another block, ours is left over: remove it, so
    // that its block does not stay taken. The next round reads the row's truth.
    const now = repo.active(user.name);
    if (now?.token !== row.token) await engine.removeNetwork(id).catch(() => undefined);
  }
}

/**
 * Runs `work` while renewing our claim on the row every RENEW_MS, so that no
 * other create takes the row over (and makes the same network a second time,
 * whose block the engine then refuses) only because the engine is slow.
 */
async function whileClaimed<T>(deps: Deps, rowId: number, me: string, work: () => Promise<T>): Promise<T> {
  const repo = deps.store.networks;
  const timer = setInterval(() => {
    try {
      const now = Date.now();
      deps.store.tx(() => repo.claim(rowId, me, now + LEASE_MS, now));
    } catch {
      // The database is busy this once: the next renewal, well inside the lease, tries again.
    }
  }, RENEW_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/**
 * Before a start: the user's network exists, and the container is attached to
 * it as it is now. A pruned network (`docker network prune` removes it while
 * all its containers are stopped) is made again under the same name, and the
 * container, which still names the old network's id, is re-attached.
 * Containers made before users had networks stay where they are.
 */
export async function attachUserNetwork(deps: Deps, user: UserRow, containerId: string): Promise<void> {
  const name = await ensureUserNetwork(deps, user);
  const had = (await deps.engine.inspect(containerId))?.networks?.[name];
  if (had === undefined) return;
  const now = await deps.engine.inspectNetwork(name);
  if (now && now.id !== had) await deps.engine.reconnectNetwork(containerId, name);
}

/** A claim whose process is gone (a claim made before claims named their process is judged by its lease alone). */
function claimDead(claim: string): boolean {
  const hash = claim.indexOf('#');
  return hash > 0 && !workOwnerAlive(claim.slice(0, hash));
}

/** Make the row's network, or adopt it when an earlier attempt (crashed, or raced) already did. */
async function makeOrAdopt(deps: Deps, row: NetworkRow): Promise<string> {
  const spec = {
    name: row.name,
    subnet: row.subnet,
    labels: networkLabels(row.owner, row.token, deps.config.instance, deps.store.installation.id),
  };
  try {
    return await deps.engine.createNetwork(spec);
  } catch (e) {
    const found = await deps.engine.inspectNetwork(row.name);
    if (found && found.labels[LABEL_NETWORK] === row.token && found.subnets.includes(row.subnet)) return found.id;
    throw e;
  }
}

/** Name and token from dcm's own data: the validated user name, the instance and random hex. */
function newIdentity(deps: Deps, owner: string, subnet: string): Pick<NetworkRow, 'name' | 'token' | 'subnet'> {
  const token = randomBytes(6).toString('hex');
  return { name: `${namePrefix(deps.config.instance, deps.store.installation.id)}-net-${owner}-${token}`, token, subnet };
}

/** A free block of the configured range; call inside the IMMEDIATE transaction. */
function pickSubnet(deps: Deps, repo: NetworksRepo, busy: Cidr[]): string {
  const { user_subnets, user_subnet_prefix } = deps.config.network;
  const pool = parseCidr(user_subnets)!; // validated with the config
  const ours = repo
    .subnets()
    .map((s) => parseCidr(s))
    .filter((c): c is Cidr => c !== null);
  const got = chooseSubnet(pool, user_subnet_prefix, [...ours, ...busy]);
  if (!got) {
    throw new DcmError(
      'limit',
      'no network address block left for your containers; ask the administrator',
      `network.user_subnets ${user_subnets} has no free /${user_subnet_prefix} left (in use by dcm, other Docker networks or host routes)`,
    );
  }
  return formatCidr(got);
}

/** Blocks in use outside dcm's table: every engine network's subnets and the host's routes. */
async function takenElsewhere(deps: Deps, routes: () => Cidr[]): Promise<Cidr[]> {
  const nets = await deps.engine.listNetworks([]);
  const fromEngine = nets
    .flatMap((n) => n.subnets)
    .map((s) => parseCidr(s))
    .filter((c): c is Cidr => c !== null);
  return [...fromEngine, ...routes()];
}

/** The host's IPv4 routes (Linux). */
function readHostRoutes(): Cidr[] {
  try {
    return parseProcRoutes(readFileSync('/proc/net/route', 'utf8'));
  } catch {
    return []; // not Linux, or no /proc: the engine's own check still refuses overlaps with its networks
  }
}

/** What happened to a user's network when the user was deleted. */
export interface NetworkRemoval {
  name: string;
  removed: boolean;
  /** Why the engine kept it (e.g. containers dcm does not know are still attached). */
  error?: string;
}

/**
 * Removes the user's network (after their containers are gone). When the
 * engine refuses, the row stays as 'removing' so that its block is not handed
 * out again, and the caller says so; removeStaleNetworks() retries.
 */
export async function removeUserNetwork(deps: Deps, owner: string): Promise<NetworkRemoval | null> {
  const repo = deps.store.networks;
  const row = repo.active(owner);
  if (!row) return null;
  deps.store.tx(() => repo.setRemoving(row.id));
  return removeRow(deps, repo, row);
}

async function removeRow(deps: Deps, repo: NetworksRepo, row: NetworkRow): Promise<NetworkRemoval> {
  try {
    // A row without an engine id may still have a network by its name (a crash mid-create).
    const id = row.docker_id ?? (await deps.engine.inspectNetwork(row.name))?.id;
    if (id) await deps.engine.removeNetwork(id);
    deps.store.tx(() => repo.delete(row.id));
    return { name: row.name, removed: true };
  } catch (e) {
    const detail = e instanceof DcmError ? (e.adminDetail ?? e.userMessage) : String(e);
    return { name: row.name, removed: false, error: detail };
  }
}

/** What reconcile did to the users' networks. */
export interface NetworkRepairs {
  /** Networks of users that are gone, those a dcm-userdel could not remove, and this installation's networks no row names. */
  removed: NetworkRemoval[];
  /** Networks made by a process that died before it recorded them: recorded now. */
  recorded: string[];
}

/**
 * For reconcile: removes what no user needs any more (removeStaleNetworks,
 * then networks labelled with this installation that no row names), and
 * records the engine id of a network whose maker died after the engine made
 * it, releasing that dead maker's claim. A network being made by a living
 * process is left alone.
 */
export async function repairNetworks(deps: Deps, dryRun: boolean): Promise<NetworkRepairs> {
  const { store, engine } = deps;
  const repo = store.networks;
  // Listed before the rows are read: a row is inserted before its network is
  // made, so every network listed here that has a row has it in the read below.
  const listed = await engine.listNetworks(installationFilter(store.installation.id));
  const removed = await removeStaleNetworks(deps, { dryRun });
  const recorded: string[] = [];
  const now = Date.now();
  for (const row of repo.all()) {
    if (row.state !== 'active' || row.docker_id || (row.claim !== null && row.claim_until > now && !claimDead(row.claim))) continue;
    const found = await engine.inspectNetwork(row.name);
    if (!found || found.labels[LABEL_NETWORK] !== row.token || !found.subnets.includes(row.subnet)) {
      if (!dryRun && row.claim !== null) store.tx(() => repo.release(row.id, row.claim!));
      continue;
    }
    recorded.push(row.name);
    if (!dryRun && row.claim !== null) store.tx(() => repo.setDockerId(row.id, row.claim!, found.id));
    else if (!dryRun) store.tx(() => repo.recordDockerId(row.id, found.id));
  }
  const named = new Set([...repo.all().flatMap((r) => [r.name, r.docker_id]), ...removed.map((r) => r.name)]);
  for (const n of listed) {
    if (named.has(n.name) || named.has(n.id)) continue;
    if (dryRun) {
      removed.push({ name: n.name, removed: false });
      continue;
    }
    try {
      await engine.removeNetwork(n.id);
      removed.push({ name: n.name, removed: true });
    } catch (e) {
      removed.push({ name: n.name, removed: false, error: e instanceof DcmError ? (e.adminDetail ?? e.userMessage) : String(e) });
    }
  }
  return { removed, recorded };
}

/**
 * For reconcile: removes networks of users that no longer exist, and retries
 * those a userdel could not remove. Only rows of this database are touched,
 * never a network found by label alone (it may be another installation's).
 * With dryRun, only lists what it would remove.
 */
export async function removeStaleNetworks(deps: Deps, opts: { dryRun?: boolean } = {}): Promise<NetworkRemoval[]> {
  const repo = deps.store.networks;
  const out: NetworkRemoval[] = [];
  for (const row of repo.all()) {
    if (row.state === 'active' && deps.store.users.get(row.owner)) continue;
    if (opts.dryRun) {
      out.push({ name: row.name, removed: false });
      continue;
    }
    if (row.state === 'active') deps.store.tx(() => repo.setRemoving(row.id));
    out.push(await removeRow(deps, repo, row));
  }
  return out;
}
