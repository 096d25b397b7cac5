/**
 * A user's containers: lifecycle, listing, logs and commit. Every method takes
 * the caller's name and resolves references only among that user's rows.
 */
import { DcmError } from '../errors.js';
import { parseImageNameTag } from '../names.js';
import { LABEL_INSTANCE, LABEL_OWNER, LABEL_ROOT_LOGIN, imageLabels, installationFilter } from '../engine/labels.js';
import type { ContainerStatus, EngineVersion } from '../engine/engine.js';
import type { ContainerRow } from '../store/containers-repo.js';
import type { UserRow } from '../store/users-repo.js';
import type { Deps } from './deps.js';
import { createContainer, planCreate, type CreatePlan, type CreateRequest } from './create-container.js';
import { resolveContainer, userRepo } from './resolve.js';
import { prepareForStart } from './engine-userns.js';
import { afterStop, beforeStart } from './policy-hooks.js';
import { claimCommit, recordCommit } from './commit-claim.js';
import { settleStart } from './start-claim.js';
import { attachUserNetwork } from './user-network.js';
import { bindOwners, verifyStorageBinds } from '../storage/verify-binds.js';
import type { ContainerView, ImageView } from './views.js';
import { removedButNotRecorded } from '../store/db-errors.js';
import { myWorkOwner } from '../store/work-owner.js';
import { crashedRow, repairOwnersCrashedRows, repairRow } from './crashed-work.js';
import { pausePoint } from './pause-point.js';
import { endFacts, shownState, shownStatus } from './container-state.js';
import { withEndFacts } from './end-facts.js';
import { attachJob, execIn, pruneEndedJobs, runJob, waitJob, type AttachEnd, type ExecRequest, type JobIo } from './jobs.js';
import { jobOf } from './job-facts.js';

export type Action = 'start' | 'stop' | 'restart' | 'pause' | 'unpause';

export class ContainerManager {
  constructor(private readonly deps: Deps) {}

  /** `progress` is told each slow step as it begins. */
  async create(user: UserRow, req: CreateRequest, progress?: (line: string) => void): Promise<ContainerView> {
    // What a crashed create or rm of this user left counts against no limit and holds no port.
    await repairOwnersCrashedRows(this.deps, user.name);
    const row = await createContainer(this.deps, user, req, progress);
    // What the engine says now, not what a successful create should mean.
    return this.view(row, await this.status(row));
  }

  /** create --dry-run: the request a create would send now; nothing is made or written. */
  planCreate(user: UserRow, req: CreateRequest): Promise<CreatePlan> {
    return planCreate(this.deps, user, req);
  }

  /** What the engine the containers run on says it is (throws 'unavailable' when it does not answer). */
  engineVersion(): Promise<EngineVersion> {
    return this.deps.engine.version();
  }

  /**
   * A batch job: made by the create saga (same policy, hardening and quotas),
   * then, unless detached, the caller attached to it until it ends (jobs.ts).
   */
  async run(
    user: UserRow,
    req: CreateRequest & { job: NonNullable<CreateRequest['job']> },
    io: JobIo,
  ): Promise<{ view: ContainerView; end: AttachEnd | null }> {
    await repairOwnersCrashedRows(this.deps, user.name);
    await pruneEndedJobs(this.deps, user.name);
    const { row, end } = await runJob(this.deps, user, req, io);
    // An --rm job that ended has no container left to ask about.
    const gone = end !== null && 'exitCode' in end && req.job.rm;
    return { view: this.view(row, gone ? null : await this.status(row)), end };
  }

  /** Attaches the caller to a running job of theirs until it ends or they detach. */
  async attach(user: string, ref: string, io: JobIo): Promise<AttachEnd> {
    return attachJob(this.deps, this.usable(user, ref), io);
  }

  /** A container's exit code once it is not running. */
  async wait(user: string, ref: string, signal: AbortSignal): Promise<number> {
    return waitJob(this.deps, this.usable(user, ref), signal);
  }

  /** Runs a command in a running container of the user's; resolves with its exit code. */
  async exec(user: UserRow, ref: string, x: ExecRequest, io: JobIo): Promise<number> {
    return execIn(this.deps, user, this.usable(user.name, ref), x, io);
  }

  /**
   * Every reference resolved among the user's own containers, before anything
   * is done to any: one that is not theirs (or does not exist) refuses the
   * whole command. Duplicates (by id or by name) count once.
   */
  resolveAll(user: string, refs: string[]): string[] {
    const seen = new Set<number>();
    const out: string[] = [];
    for (const ref of refs) {
      const row = resolveContainer(this.deps.store, user, ref);
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      out.push(String(row.id));
    }
    return out;
  }

  /** Runs one lifecycle action and returns the container as it is afterwards. */
  async act(user: string, ref: string, action: Action): Promise<ContainerView> {
    const { engine, config, store } = this.deps;
    const row = this.usable(user, ref);
    const id = row.docker_id!;
    // start and restart make the engine mount the storage again: give it the owners the
    // engine's user namespace mode needs, then check it is what dcm made (no links).
    if (action === 'start' || action === 'restart') {
      const owners = await prepareForStart(this.deps, store.users.get(user)!);
      verifyStorageBinds(config.storageDir, user, bindOwners(owners));
    }
    const before = await this.status(row);
    if (!before)
      throw new DcmError(
        'conflict',
        `container ${row.id} is gone from the engine; remove it with rm (the administrator can run dcm-admin reconcile)`,
      );
    const t = config.engine.stop_timeout;
    // A user's network pruned while all its containers were stopped is made again, and the container re-attached.
    const owner = store.users.get(user);
    if (owner && (action === 'start' || action === 'restart')) await attachUserNetwork(this.deps, owner, id);
    const needs: Partial<Record<Action, string[]>> = { pause: ['running'], unpause: ['paused'] };
    const okStates = needs[action];
    if (okStates && !okStates.includes(before.state)) {
      throw new DcmError('conflict', `container ${row.id} is ${before.state}: cannot ${action} it`);
    }
    if ((action === 'stop' || action === 'restart') && before.state === 'paused') {
      throw new DcmError('conflict', `container ${row.id} is paused: unpause it first`);
    }
    if (action === 'start' && before.state === 'paused') {
      throw new DcmError('conflict', `container ${row.id} is paused: use unpause`);
    }
    // A stopped container coming back: running limit, and its GPUs if they were released.
    const comingBack = (action === 'start' || action === 'restart') && before.state !== 'running' && before.state !== 'paused';
    if (comingBack) await beforeStart(this.deps, row);
    if (comingBack) await pausePoint('start:after-claim');
    try {
      switch (action) {
        case 'start':
          await engine.start(id);
          break;
        case 'stop':
          await engine.stop(id, t);
          afterStop(this.deps, row);
          break;
        case 'restart':
          await engine.restart(id, t);
          break;
        case 'pause':
          await engine.pause(id);
          break;
        case 'unpause':
          await engine.unpause(id);
          break;
      }
    } catch (e) {
      if (comingBack) {
        settleStart(this.deps, row, false);
        afterStop(this.deps, row); // it stays stopped: give back what beforeStart took
      }
      throw e;
    }
    if (comingBack) await pausePoint('start:after-engine-start');
    if (comingBack) settleStart(this.deps, row, true);
    if (((action === 'start' && before.state !== 'running') || action === 'restart') && !jobOf(row)) {
      // "Works immediately": return only once sshd answers.
      await this.deps.net.waitForSsh(row.ip, row.id, config.engine.ready_timeout * 1000);
    }
    store.audit.record({ actor: user, action, target: row.id, ok: true });
    return this.view(row, await this.status(row));
  }

  async remove(user: string, ref: string, force: boolean): Promise<ContainerView> {
    const { engine, store } = this.deps;
    const row = resolveContainer(store, user, ref);
    if (crashedRow(row)) {
      // A create or rm whose process died: its container (found by id or label) and row go now.
      const view = this.view(row, null);
      await repairRow(this.deps, row, await engine.list(installationFilter(store.installation.id)));
      store.audit.record({ actor: user, action: 'rm', target: row.id, ok: true, detail: 'crashed work repaired' });
      return view;
    }
    if (row.state === 'creating') throw new DcmError('conflict', `container ${row.id} is still being created`);
    const st = row.docker_id ? await engine.inspect(row.docker_id) : null;
    if (st && (st.state === 'running' || st.state === 'paused' || st.state === 'restarting') && !force) {
      throw new DcmError('conflict', `container ${row.id} is ${st.state}: stop it first, or use rm -f`);
    }
    const view = this.view(row, st);
    store.containers.setStateOwned(row.id, 'removing', myWorkOwner());
    await pausePoint('rm:after-mark');
    try {
      if (row.docker_id) await engine.remove(row.docker_id, true);
    } catch (e) {
      store.containers.setStateOwned(row.id, 'created', null);
      throw e;
    }
    await pausePoint('rm:after-engine-remove');
    // The container is gone now: if recording that fails (a full disk), say exactly so.
    try {
      store.tx(() => {
        store.containers.delete(row.id);
        store.audit.record({ actor: user, action: 'rm', target: row.id, ok: true });
      });
    } catch (e) {
      throw removedButNotRecorded(row.id, e, store.path);
    }
    return view;
  }

  /** The user's containers with live state from one engine call. */
  async list(user: string): Promise<ContainerView[]> {
    const { engine, store, config } = this.deps;
    const rows = store.containers.byOwner(user);
    if (rows.length === 0) return [];
    // Narrowed to the owner's label so the engine hands back this user's containers,
    // not the whole installation's (its answer dominates `show` on a big host).
    const live = await engine.list([`${LABEL_INSTANCE}=${config.instance}`, `${LABEL_OWNER}=${user}`]);
    // Joined on the Docker id recorded in the database: labels never decide ownership.
    const byId = new Map(live.map((c) => [c.id, c]));
    // --rm jobs that ended since: the engine removed them, their rows go now.
    const pruned = await pruneEndedJobs(this.deps, user, new Set(byId.keys()));
    if (pruned.length) return this.list(user);
    const statuses = await withEndFacts(engine, rows, byId); // how the stopped ones ended
    return rows.map((r) => this.view(r, statuses.get(r.id) ?? null));
  }

  async get(user: string, ref: string): Promise<ContainerView> {
    const row = resolveContainer(this.deps.store, user, ref);
    return this.view(row, await this.status(row));
  }

  async logs(user: string, ref: string, tail: number): Promise<string> {
    const row = this.usable(user, ref);
    return this.deps.engine.logs(row.docker_id!, tail, jobOf(row)?.tty === true);
  }

  /** The log as it grows, until the container stops or `signal` aborts (logs -f). */
  async followLogs(user: string, ref: string, tail: number, signal: AbortSignal, onText: (text: string) => Promise<void>): Promise<void> {
    const row = this.usable(user, ref);
    await this.deps.engine.followLogs(row.docker_id!, tail, signal, onText, jobOf(row)?.tty === true);
  }

  /** Saves the container as dcm/u/<user>/NAME:TAG; an existing image is never overwritten. `progress` is told each slow step as it begins. */
  async commit(user: string, ref: string, nameTag: string, progress: (line: string) => void = () => {}): Promise<ImageView> {
    const { engine, store } = this.deps;
    const row = this.usable(user, ref);
    const { name, tag } = parseImageNameTag(nameTag);
    const repo = `${userRepo(user)}/${name}`;
    const full = `${repo}:${tag}`;
    const taken = () => new DcmError('conflict', `you already have an image ${name}:${tag}; remove it with rmi first or pick another tag`);
    // The quota and the name are claimed before the layer is written: a
    // refused commit writes nothing, and two parallel commits cannot both
    // take the last slot. Then commit untagged, record the row, then tag: two
    // commits racing for one name never move a tag that the other already
    // recorded, and a loser removes only its own image, by id.
    if (store.images.get(full)) throw taken();
    // Another installation on this engine may hold the same name: tagging would take it away.
    if (await engine.inspectImage(full))
      throw new DcmError('conflict', `the image name ${name}:${tag} is already used in the container engine; pick another name or tag`);
    claimCommit(this.deps, user, full, taken);
    await pausePoint('commit:after-claim');
    let imageId: string;
    try {
      progress(`saving container ${row.id} as an image...`);
      imageId = await engine.commit(row.docker_id!, imageLabels(user, this.deps.config.instance, store.installation.id));
    } catch (e) {
      store.claims.dropCommit(full);
      throw e;
    }
    await pausePoint('commit:after-engine-commit');
    try {
      recordCommit(this.deps, user, full, imageId, row.id, taken);
    } catch (e) {
      store.claims.dropCommit(full);
      await engine.removeImage(imageId).catch(() => undefined);
      throw e;
    }
    await pausePoint('commit:after-record');
    try {
      progress(`naming it ${name}:${tag}...`);
      await engine.tag(imageId, repo, tag);
    } catch (e) {
      store.images.delete(full);
      await engine.removeImage(imageId).catch(() => undefined);
      throw e;
    }
    store.audit.record({ actor: user, action: 'commit', target: row.id, ok: true, detail: full });
    const info = await engine.inspectImage(imageId);
    return {
      ref: full,
      name: `${name}:${tag}`,
      kind: 'own',
      id: imageId,
      sizeBytes: info?.sizeBytes ?? null,
      createdAt: new Date().toISOString(),
      inUseBy: [],
    };
  }

  /** A resolved container that has finished creating and is not being removed. */
  private usable(user: string, ref: string): ContainerRow {
    const row = resolveContainer(this.deps.store, user, ref);
    if (row.state !== 'created' || !row.docker_id) {
      throw new DcmError('conflict', `container ${row.id} is ${row.state === 'removing' ? 'being removed' : 'still being created'}`);
    }
    return row;
  }

  /** The engine's view of the container; null when it is gone from the engine. */
  private async status(row: ContainerRow): Promise<ContainerStatus | null> {
    if (!row.docker_id) return null;
    return this.deps.engine.inspect(row.docker_id);
  }

  private view(row: ContainerRow, st: ContainerStatus | null): ContainerView {
    const { config, store } = this.deps;
    const ports = store.containers.ports(row.id).filter((p) => p.kind === 'extra');
    const single = config.network.ip_aliases.length === 1;
    const host = row.ip === '0.0.0.0' || single ? config.host : row.ip;
    return {
      id: row.id,
      name: row.name,
      image: row.image_ref,
      state: shownState(row, st),
      status: crashedRow(row) ? `${row.state}, interrupted: the process doing it died (rm removes it)` : shownStatus(row, st),
      end: endFacts(st),
      host,
      ip: row.ip,
      sshPort: row.id,
      // As the container was made; one made before the label existed offers root (the default then).
      rootLogin: st?.labels[LABEL_ROOT_LOGIN] !== 'no',
      job: jobOf(row) && { ...jobOf(row)!, rm: row.auto_remove === 1 },
      ports: ports.map((p) => ({ container: p.container_port, host: p.port, ip: p.ip })),
      createdAt: row.created_at,
    };
  }
}
