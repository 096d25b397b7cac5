/**
 * The create saga: reserve (ports, IP, row) in one IMMEDIATE transaction →
 * probe the host → create → start → wait for sshd → record. Any failure undoes
 * the earlier steps, so a failed create leaves no container, row or port.
 * A batch job (`run`) takes the same saga, policy and hardening: it differs
 * only in what the container runs (the user's command as the user, instead of
 * sshd), that it publishes no port, and that whoever attaches to it does so
 * before it starts (`beforeStart`), so that none of its output is missed.
 * What the container may have (image, limits, mounts, ports, GPUs, caps, env)
 * is decided by policy/decide.ts; this file only carries the decision out.
 */
import { randomBytes } from 'node:crypto';
import { DcmError } from '../errors.js';
import { checkContainerName, clip } from '../names.js';
import { jobJson } from './job-facts.js';
import { chooseAllocation } from '../net/port-allocator.js';
import { LABEL_JOB, LABEL_RESTART, LABEL_ROOT_LOGIN, containerLabels, containerName, namePrefix } from '../engine/labels.js';
import { decide, type Decision, type PolicyRequest, type PolicyUser, type Usage } from '../policy/decide.js';
import { hostHome } from './host-home.js';
import { probeDevices, probeMounts } from '../policy-io/probe-mounts.js';
import { userDirs } from '../storage/user-dirs.js';
import { bindOwners, verifyStorageBinds } from '../storage/verify-binds.js';
import type { ContainerSpec, EngineRequest } from '../engine/engine.js';
import type { ContainerRow } from '../store/containers-repo.js';
import type { ImageRow } from '../store/images-repo.js';
import type { UserRow } from '../store/users-repo.js';
import type { Deps } from './deps.js';
import { resolveImage } from './resolve.js';
import { prepareForCreate } from './engine-userns.js';
import { runningCount, runningSnapshot, type RunningSnapshot } from './start-claim.js';
import { gpuEnv } from './gpu-env.js';
import { ensureUserNetwork } from './user-network.js';
import { assertNotBlocked } from './user-manager.js';
import { assertKeysInSync } from './keys-unsynced.js';
import { myWorkOwner } from '../store/work-owner.js';
import { pausePoint } from './pause-point.js';

/** A create as the user typed it, already split into typed values. */
export interface CreateRequest {
  image?: string;
  name?: string;
  ports?: number[];
  /** One preset granted by the admin (`--preset NAME`). */
  preset?: string;
  /** Names from the admin's mount catalogue (`--mount NAME`). */
  mounts?: string[];
  /** `--gpus N` or `--gpus 0,3`. */
  gpus?: { count: number } | { ids: string[] };
  /** Modes asked with `--mount NAME:ro` (or `:rw`). */
  mountModes?: Record<string, 'ro' | 'rw'>;
  /** false for `--no-default-mounts`. */
  defaultMounts?: boolean;
  /** A batch job (`run`) instead of a container with sshd. */
  job?: JobRequest;
}

/** A `run` as the user typed it. */
export interface JobRequest {
  /** argv for the container, never a shell line; empty: the image's own command (or /bin/sh when it names none). */
  command: string[];
  /** A terminal in the container. */
  tty: boolean;
  /** Its stdin kept open, for attaching. */
  stdin: boolean;
  /** A client attaches right away: its stdin closes (EOF) when that client leaves. */
  attached: boolean;
  /** The engine removes the container when it ends (--rm). */
  rm: boolean;
  /** As root instead of the user: only where the policy lets the user be root. */
  root: boolean;
}

/** Steps a caller takes inside the saga (a `run` attaching before the start). */
export interface CreateHooks {
  /** After the container exists, before it starts; a failure undoes the create. */
  beforeStart?(dockerId: string, row: ContainerRow): Promise<void>;
}

/** Where the init script is mounted inside every container. */
export const INIT_PATH = '/usr/local/lib/dcm/init';

const MAX_PROBE_ROUNDS = 20;

/** `progress` is told each slow step once, as it begins (shown to the user on stderr). */
export async function createContainer(
  deps: Deps,
  user: UserRow,
  req: CreateRequest,
  progress: (line: string) => void = () => {},
  hooks: CreateHooks = {},
): Promise<ContainerRow> {
  const { store, engine, config } = deps;
  const job = req.job;
  const name = req.name === undefined ? null : checkContainerName(req.name);
  const image = resolveImage(store, user.name, req.image ?? config.default_image);
  const groups = store.users.groups(user.name);
  const preq = policyRequest(req, image, user.name);
  const runningNow = await runningSnapshot(deps, user.name);
  // A job that names no command runs the image's own; one whose image names none gets a shell.
  const defaultCommand = job && job.command.length === 0 ? await imageCommand(deps, image.docker_id) : [];
  // Decide once before touching the host (so a refused create never probes or
  // reserves anything), then again inside the reservation transaction.
  // Looked up once, outside any transaction (getent may ask a directory service).
  const who = policyUser(deps, user);
  const first = decideWithUsage(deps, user, who, groups, preq, runningNow);
  if (job?.root && first.runAs) throw rootRefused();
  const hostChecks = async () => {
    await probeMounts(first.mounts, config.mount_probe_timeout * 1000);
    await probeDevices(
      [
        ...first.gpus.flatMap((g) => g.devices.map((path) => ({ label: `GPU ${g.id}`, path }))),
        ...first.sharedDevices.map((path) => ({ label: 'a GPU device', path })),
      ],
      config.mount_probe_timeout * 1000,
    );
    return prepareForCreate(deps, user, first.mounts); // engine user namespace: uid range, storage owners, nosuid rw mounts
  };
  // The user's own network (made at their first create; other users' containers cannot reach it)
  // is looked up beside the host checks: two engine round trips at once instead of one after the other.
  // Both are awaited before a refusal is reported, so no network is left half-made.
  const [checked, net] = await Promise.allSettled([hostChecks(), ensureUserNetwork(deps, user)]);
  if (checked.status === 'rejected') throw checked.reason;
  if (net.status === 'rejected') throw net.reason;
  const owners = checked.value;
  const network = net.value;

  const { row, decision } = await reserve(deps, user, { name, image, who, groups, preq, runningNow, job });
  await pausePoint('create:after-reserve');
  let dockerId: string | null = null;
  try {
    verifyStorageBinds(config.storageDir, user.name, bindOwners(owners), !decision.runAs);
    const base = buildSpec(deps, user, row, decision);
    const spec = { ...(job ? jobSpec(base, user, job, defaultCommand) : base), network };
    progress(`creating container ${row.id}...`);
    dockerId = await engine.createContainer(spec);
    await pausePoint('create:after-engine-create');
    store.containers.setDockerId(row.id, dockerId);
    await pausePoint('create:after-record-id');
    await hooks.beforeStart?.(dockerId, { ...row, docker_id: dockerId });
    progress('starting it...');
    await startOrExplain(deps, dockerId, job ? (spec.cmd[0] ?? '') : null);
    await pausePoint('create:after-start');
    if (!job) {
      progress('waiting for its sshd...');
      const ready = await deps.net.waitForSsh(row.ip, row.id, config.engine.ready_timeout * 1000);
      if (!ready) {
        const tail = (await engine.logs(dockerId, 5).catch(() => '')).trim().split('\n').pop() ?? '';
        throw new DcmError('internal', `container did not start sshd within ${config.engine.ready_timeout}s${tail ? `: ${tail}` : ''}`);
      }
    }
    await pausePoint('create:before-created');
    store.containers.setStateOwned(row.id, 'created', null);
    store.audit.record({ actor: user.name, action: job ? 'run' : 'create', target: row.id, ok: true, detail: image.ref });
    return { ...row, docker_id: dockerId, state: 'created', work_owner: null };
  } catch (e) {
    const removed = dockerId
      ? await engine.remove(dockerId, true).then(
          () => true,
          () => false,
        )
      : true;
    // Its ports, resources and GPU reservations go with the row. While the
    // engine may still hold the container, the row stays as 'removing' so that
    // nothing is handed out twice; reconcile finishes the removal.
    if (removed) store.containers.delete(row.id);
    else store.containers.setStateOwned(row.id, 'removing', null); // no process works on it: reconcile finishes it at once
    store.audit.record({ actor: user.name, action: job ? 'run' : 'create', target: row.id, ok: false, detail: (e as Error).message });
    throw e;
  }
}

/** The image's own command, or none: then a job without a command gets /bin/sh. */
async function imageCommand(deps: Deps, imageId: string): Promise<string[]> {
  const info = await deps.engine.inspectImage(imageId);
  return info?.hasCommand ? [] : ['/bin/sh'];
}

/**
 * Starts the container. A job whose command the image does not have fails
 * here (the runtime cannot exec it): said in one line, with the exit code a
 * shell gives for it (127 not found, 126 not runnable).
 */
async function startOrExplain(deps: Deps, dockerId: string, command: string | null): Promise<void> {
  try {
    await deps.engine.start(dockerId);
  } catch (e) {
    const detail = e instanceof DcmError ? (e.adminDetail ?? '') : '';
    if (command === null || !/starting container process caused|exec:|OCI runtime/.test(detail)) throw e;
    const what = command ? `"${clip(command)}"` : "the image's command";
    if (/permission denied/.test(detail)) throw new DcmError('invalid', `cannot run ${what}: permission denied`, detail, 126);
    if (/not found|no such file or directory/.test(detail))
      throw new DcmError('invalid', `cannot run ${what}: no such command in the image`, detail, 127);
    throw new DcmError('invalid', `cannot run ${what} in the image`, detail, 126);
  }
}

/**
 * decide() with usage read from the store now: call inside store.tx() for a
 * race-free answer. Rows still being created count as running: they will be.
 */
function decideWithUsage(
  deps: Deps,
  user: UserRow,
  who: PolicyUser,
  groups: string[],
  preq: PolicyRequest,
  runningNow: RunningSnapshot,
): Decision {
  const { store, config } = deps;
  const creating = store.containers.byOwner(user.name).filter((r) => r.state === 'creating').length;
  const totals = store.policy.totals(user.name);
  const usage: Usage = {
    containers: store.containers.countByOwner(user.name),
    // What the engine showed, plus starts other processes claimed meanwhile (start-claim.ts).
    running: runningCount(store, user.name, runningNow) + creating,
    memoryBytes: totals.memoryBytes,
    cpus: totals.cpus,
    gpusInUse: store.policy.reservations().map((r) => r.gpu_id),
  };
  const d = decide(preq, who, groups, usage, config);
  if (!d.ok) throw new DcmError(d.code, d.message, d.rule);
  return d;
}

/** What the user asked for, as the policy reads it. */
function policyRequest(req: CreateRequest, image: ImageRow, user: string): PolicyRequest {
  return {
    image: { ref: image.ref, own: image.owner === user },
    ...(req.preset !== undefined ? { preset: req.preset } : {}),
    mounts: req.mounts ?? [],
    ...(req.mountModes ? { mountModes: req.mountModes } : {}),
    ...(req.defaultMounts === false ? { defaultMounts: false } : {}),
    ports: req.ports ?? [],
    ...(req.gpus ? { gpus: req.gpus } : {}),
  };
}

/** The caller as the policy sees them; their host home only when a mount source asks for it. */
function policyUser(deps: Deps, user: UserRow): PolicyUser {
  const needsHome = Object.values(deps.config.mounts).some((m) => m.source.startsWith('{home}'));
  return { name: user.name, uid: user.uid, gid: user.gid, ...(needsHome ? { home: hostHome(user.name, user.uid) } : {}) };
}

interface ReserveInput {
  name: string | null;
  image: ImageRow;
  who: PolicyUser;
  groups: string[];
  preq: PolicyRequest;
  runningNow: RunningSnapshot;
  job: JobRequest | undefined;
}

/**
 * Decides, picks an IP alias, SSH port and GPUs, and inserts the row, its port
 * allocations, resources and GPU reservations in one IMMEDIATE transaction;
 * then checks the host really has those ports free, and if another process
 * holds one, releases the reservation and tries again without it.
 */
async function reserve(deps: Deps, user: UserRow, inp: ReserveInput): Promise<{ row: ContainerRow; decision: Decision }> {
  const { store } = deps;
  const hostBusy = new Set<string>();
  for (let round = 0; round < MAX_PROBE_ROUNDS; round++) {
    const res = store.tx(() => {
      assertNotBlocked(store, user.name); // dcm-userdel may have begun since the command started
      assertKeysInSync(store, user.name); // a key revocation may have been refused since
      const decision = decideWithUsage(deps, user, inp.who, inp.groups, inp.preq, inp.runningNow);
      // Decided again with the policy as it is now (it reloads while commands run): root too.
      if (inp.job?.root && decision.runAs) throw rootRefused();
      if (inp.name && store.containers.ownedByName(user.name, inp.name)) {
        throw new DcmError('conflict', `you already have a container named ${inp.name}`);
      }
      const ports = decision.ports;
      const choice = allocate(store, decision, hostBusy);
      if ('reason' in choice) throw allocationRefusal(choice.reason, decision);
      const r: ContainerRow = {
        id: choice.sshPort,
        owner: user.name,
        name: inp.name,
        docker_id: null,
        image_ref: inp.image.ref,
        image_id: inp.image.docker_id,
        ip: choice.ip,
        instance: randomBytes(16).toString('hex'),
        state: 'creating',
        created_at: new Date().toISOString(),
        work_owner: myWorkOwner(), // a crash is recognised at once (crashed-work.ts)
        job: inp.job ? jobJson({ command: inp.job.command, tty: inp.job.tty, stdin: inp.job.stdin, root: inp.job.root }) : null,
        auto_remove: inp.job?.rm ? 1 : 0,
      };
      store.containers.insert(r);
      store.sshPortCursor.move(r.id);
      // A job publishes no port: its id is still taken from the SSH range, so ids stay unique.
      if (!inp.job) store.containers.addPort({ ip: r.ip, port: r.id, container_id: r.id, container_port: 22, kind: 'ssh' });
      for (const p of ports) store.containers.addPort({ ip: r.ip, port: p, container_id: r.id, container_port: p, kind: 'extra' });
      store.policy.setResources(r.id, decision.memoryBytes, decision.cpus, decision.preset);
      store.policy.reserveGpus(
        r.id,
        user.name,
        decision.gpus.map((g) => g.id),
        true,
      );
      return { row: r, decision };
    });
    const { row, decision } = res;
    if (inp.job) return res; // nothing published: no host port to probe
    const wanted = [row.id, ...decision.ports];
    const free = await Promise.all(wanted.map((p) => deps.net.isPortFree(row.ip, p)));
    if (free.every(Boolean)) return res;
    wanted.forEach((p, i) => free[i] || hostBusy.add(`${row.ip}:${p}`));
    store.containers.delete(row.id);
  }
  throw new DcmError('conflict', 'could not find free host ports; try again');
}

/** What `create --dry-run` shows: the one Engine API request a create would send now. */
export interface CreatePlan {
  request: EngineRequest;
  /** Values that are only decided when the container is really made. */
  notes: string[];
}

/**
 * create --dry-run: the same checks as a create (policy, names, mount and
 * device probes, a free SSH port), then the request createContainer would
 * send, built by the engine adapter itself. Nothing is written or made: no
 * row, no port reservation, no network, no storage re-owned, no crash repair.
 */
export async function planCreate(deps: Deps, user: UserRow, req: CreateRequest): Promise<CreatePlan> {
  const { store, engine, config } = deps;
  const name = req.name === undefined ? null : checkContainerName(req.name);
  const image = resolveImage(store, user.name, req.image ?? config.default_image);
  const groups = store.users.groups(user.name);
  const preq = policyRequest(req, image, user.name);
  assertNotBlocked(store, user.name);
  const d = decideWithUsage(deps, user, policyUser(deps, user), groups, preq, await runningSnapshot(deps, user.name));
  if (name && store.containers.ownedByName(user.name, name)) throw new DcmError('conflict', `you already have a container named ${name}`);
  await probeMounts(d.mounts, config.mount_probe_timeout * 1000);
  await probeDevices(
    [
      ...d.gpus.flatMap((g) => g.devices.map((path) => ({ label: `GPU ${g.id}`, path }))),
      ...d.sharedDevices.map((path) => ({ label: 'a GPU device', path })),
    ],
    config.mount_probe_timeout * 1000,
  );
  const choice = allocate(store, d, new Set());
  if ('reason' in choice) throw allocationRefusal(choice.reason, d);
  const row: ContainerRow = {
    id: choice.sshPort,
    owner: user.name,
    name,
    docker_id: null,
    image_ref: image.ref,
    image_id: image.docker_id,
    ip: choice.ip,
    instance: randomBytes(16).toString('hex'),
    state: 'creating',
    created_at: new Date().toISOString(),
    work_owner: null,
    job: null,
    auto_remove: 0,
  };
  const net = store.networks.active(user.name);
  const notes = [
    `SSH port ${row.id} on ${row.ip} is the one a create would take now; another create meanwhile may take it first`,
    'DCM_INSTANCE is made afresh for every container',
  ];
  let network = net?.docker_id ? net.name : null;
  if (!network) {
    network = `${namePrefix(config.instance, store.installation.id)}-net-${user.name}-NEW`;
    notes.push('your network is made at your first create; NEW stands for the random part of its name');
  }
  return { request: await engine.createRequest({ ...buildSpec(deps, user, row, d), network }), notes };
}

/** An IP alias and SSH port (and the extra ports) for a decision, from what the store holds now; `hostBusy` are ip:port pairs found taken on the host. */
function allocate(store: Deps['store'], d: Decision, hostBusy: Set<string>) {
  return chooseAllocation({
    aliases: d.ipAliases,
    sshRange: d.sshRange,
    cursor: store.sshPortCursor.read(),
    usedIds: store.containers.ids(),
    usedOn: (ip) => store.containers.portsOnIp(ip),
    extraPorts: d.ports,
    hostBusy,
  });
}

const rootRefused = () =>
  new DcmError(
    'denied',
    'run --root is refused: you may not be root in your containers (the administrator set "user: host"); nothing was created',
  );

/** One line for a port choice that found nothing. */
function allocationRefusal(reason: string, d: Decision): DcmError {
  if (reason === 'ports-taken')
    return new DcmError(
      'conflict',
      `port${d.ports.length > 1 ? 's' : ''} ${d.ports.join(', ')} already in use on every address (${d.ipAliases.join(', ')})`,
    );
  return new DcmError('limit', 'no free SSH port left on this server; ask the administrator');
}

/**
 * A job's container: the create spec (image, limits, mounts, GPUs, network,
 * labels) with the user's command instead of dcm's init and sshd, as the user
 * (or root where allowed) in their home, no port, no init script, and
 * restart policy "no" (a job that ended stays ended).
 */
function jobSpec(base: ContainerSpec, user: UserRow, job: JobRequest, defaultCommand: string[]): ContainerSpec {
  const home = job.root ? '/root' : `/home/${user.name}`;
  const who = job.root ? 'root' : user.name;
  const { entrypoint: _sshd, ...rest } = base;
  return {
    ...rest,
    labels: { ...base.labels, [LABEL_RESTART]: 'no', [LABEL_JOB]: '1' },
    cmd: job.command.length ? job.command : defaultCommand,
    env: { ...base.env, HOME: home, USER: who, LOGNAME: who },
    mounts: base.mounts.filter((m) => m.target !== INIT_PATH),
    publish: [],
    job: {
      user: job.root ? '0:0' : `${user.uid}:${user.gid}`,
      workingDir: home,
      tty: job.tty,
      openStdin: job.stdin,
      stdinOnce: job.stdin && job.attached,
      autoRemove: job.rm,
    },
  };
}

/** Inside the container a device node appears under /dev with its own name. */
const devPath = (host: string) => `/dev/${host.slice(host.lastIndexOf('/') + 1)}`;

/** The typed allowlist: nothing here comes from user text except validated values and policy. */
function buildSpec(deps: Deps, user: UserRow, row: ContainerRow, d: Decision): ContainerSpec {
  const { config } = deps;
  const dirs = userDirs(config.storageDir, user.name);
  return {
    name: containerName(config.instance, deps.store.installation.id, row.id),
    hostname: (row.name ?? `${user.name}-${row.id}`).replace(/_/g, '-').slice(0, 63),
    image: row.image_id,
    labels: {
      ...containerLabels(user.name, row.id, config.instance, deps.store.installation.id),
      [LABEL_ROOT_LOGIN]: d.runAs ? 'no' : 'yes',
    },
    entrypoint: ['/bin/sh', INIT_PATH],
    cmd: [],
    env: {
      ...d.env, // the admin's forced variables; DCM_* are refused in the config
      DCM_USER: user.name,
      DCM_UID: String(user.uid),
      DCM_GID: String(user.gid),
      DCM_INSTANCE: row.instance,
      ...(d.runAs ? { DCM_ROOT_LOGIN: 'no' } : {}),
      ...gpuEnv(d.gpus.map((g) => g.id)), // last: neither the image nor the admin's env chooses GPUs
    },
    mounts: [
      // Forced host identity: sshd (PID 1) still needs root, but without the
      // user's /root storage root has no authorized key, so every session runs
      // as the user's uid:gid, and no-new-privileges keeps it there.
      ...(d.runAs ? [] : [{ source: dirs.root, target: '/root', readOnly: false }]),
      { source: dirs.home, target: `/home/${user.name}`, readOnly: false },
      { source: config.initScript, target: INIT_PATH, readOnly: true },
      ...d.mounts.map((m) => ({ source: m.source, target: m.target, readOnly: m.readOnly })),
    ],
    publish: [
      { hostIp: row.ip, hostPort: row.id, containerPort: 22 },
      ...d.ports.map((p) => ({ hostIp: row.ip, hostPort: p, containerPort: p })),
    ],
    capAdd: d.capAdd,
    memoryBytes: d.memoryBytes,
    nanoCpus: Math.round(d.cpus * 1e9),
    pidsLimit: d.pids,
    devices: [
      ...d.gpus.flatMap((g) => g.devices.map((p) => ({ hostPath: p, containerPath: devPath(p), gpuId: g.id }))),
      ...d.sharedDevices.map((p) => ({ hostPath: p, containerPath: devPath(p) })),
    ],
  };
}
