/**
 * The create saga: reserve (ports, IP, row) in one IMMEDIATE transaction →
 * probe the host → create → start → wait for sshd → record. Any failure undoes
 * the earlier steps, so a failed create leaves no container, row or port.
 */
import { randomBytes } from 'node:crypto';
import { DcmError } from '../errors.js';
import { checkContainerName } from '../names.js';
import { chooseAllocation } from '../net/port-allocator.js';
import { realHostNet } from '../net/host-net.js';
import { containerLabels } from '../engine/labels.js';
import { BASE_CAPABILITIES } from '../policy/capabilities.js';
import { effectiveLimits } from '../policy/limits.js';
import { userDirs } from '../storage/user-dirs.js';
import type { ContainerSpec } from '../engine/engine.js';
import type { ContainerRow } from '../store/containers-repo.js';
import type { ImageRow } from '../store/images-repo.js';
import type { UserRow } from '../store/users-repo.js';
import type { Deps } from './deps.js';
import { resolveImage } from './resolve.js';

export interface CreateRequest {
  image?: string;
  name?: string;
  ports?: number[];
}

/** Where the init script is mounted inside every container. */
export const INIT_PATH = '/usr/local/lib/dcm/init';

const MAX_PROBE_ROUNDS = 20;

export async function createContainer(deps: Deps, user: UserRow, req: CreateRequest): Promise<ContainerRow> {
  const { store, engine, config } = deps;
  const name = req.name === undefined ? null : checkContainerName(req.name);
  const ports = checkExtraPorts(deps, req.ports ?? []);
  const image = resolveImage(store, user.name, req.image ?? config.default_image);
  const groups = store.users.groups(user.name);
  const { limits } = effectiveLimits(config, user.name, groups);

  const row = await reserve(deps, user, { name, ports, image, maxContainers: limits.max_containers });
  let dockerId: string | null = null;
  try {
    const spec = buildSpec(deps, user, row, ports, limits);
    dockerId = await engine.createContainer(spec);
    store.containers.setDockerId(row.id, dockerId);
    await engine.start(dockerId);
    const ready = await (deps.net ?? realHostNet).waitForSsh(row.ip, row.id, config.engine.ready_timeout * 1000);
    if (!ready) {
      const tail = (await engine.logs(dockerId, 5).catch(() => '')).trim().split('\n').pop() ?? '';
      throw new DcmError('internal', `container did not start sshd within ${config.engine.ready_timeout}s${tail ? `: ${tail}` : ''}`);
    }
    store.containers.setState(row.id, 'created');
    store.audit.record({ actor: user.name, action: 'create', target: row.id, ok: true, detail: image.ref });
    return { ...row, docker_id: dockerId, state: 'created' };
  } catch (e) {
    if (dockerId) await engine.remove(dockerId, true).catch(() => undefined);
    store.containers.delete(row.id);
    store.audit.record({ actor: user.name, action: 'create', target: row.id, ok: false, detail: (e as Error).message });
    throw e;
  }
}

function checkExtraPorts(deps: Deps, ports: number[]): number[] {
  const { lo, hi } = deps.config.network.extra_ports;
  const ssh = deps.config.network.ssh_ports;
  const unique = [...new Set(ports)];
  for (const p of unique) {
    if (p < lo || p > hi) throw new DcmError('invalid', `port ${p} is not allowed: extra ports must be in ${lo}-${hi}`);
    if (p >= ssh.lo && p <= ssh.hi) throw new DcmError('invalid', `port ${p} is not allowed: ${ssh.lo}-${ssh.hi} is reserved for SSH ports`);
  }
  return unique;
}

interface ReserveInput {
  name: string | null;
  ports: number[];
  image: ImageRow;
  maxContainers: number;
}

/**
 * Picks an IP alias and SSH port and inserts the row and its port allocations
 * atomically; then checks the host really has those ports free, and if another
 * process holds one, releases the reservation and tries again without it.
 */
async function reserve(deps: Deps, user: UserRow, inp: ReserveInput): Promise<ContainerRow> {
  const { store, config } = deps;
  const hostBusy = new Set<string>();
  for (let round = 0; round < MAX_PROBE_ROUNDS; round++) {
    const row = store.tx(() => {
      const count = store.containers.countByOwner(user.name);
      if (count >= inp.maxContainers) {
        throw new DcmError('limit', `limit reached: you have ${count} of ${inp.maxContainers} containers allowed; remove one first`);
      }
      if (inp.name && store.containers.ownedByName(user.name, inp.name)) {
        throw new DcmError('conflict', `you already have a container named ${inp.name}`);
      }
      const choice = chooseAllocation({
        aliases: config.network.ip_aliases,
        sshRange: config.network.ssh_ports,
        usedIds: store.containers.ids(),
        usedOn: (ip) => store.containers.portsOnIp(ip),
        extraPorts: inp.ports,
        hostBusy,
      });
      if ('reason' in choice) {
        if (choice.reason === 'ports-taken') {
          throw new DcmError('conflict', `port${inp.ports.length > 1 ? 's' : ''} ${inp.ports.join(', ')} already in use on every address (${config.network.ip_aliases.join(', ')})`);
        }
        throw new DcmError('limit', 'no free SSH port left on this server; ask the administrator');
      }
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
      };
      store.containers.insert(r);
      store.containers.addPort({ ip: r.ip, port: r.id, container_id: r.id, container_port: 22, kind: 'ssh' });
      for (const p of inp.ports) store.containers.addPort({ ip: r.ip, port: p, container_id: r.id, container_port: p, kind: 'extra' });
      return r;
    });
    const wanted = [row.id, ...inp.ports];
    const free = await Promise.all(wanted.map((p) => (deps.net ?? realHostNet).isPortFree(row.ip, p)));
    if (free.every(Boolean)) return row;
    wanted.forEach((p, i) => free[i] || hostBusy.add(`${row.ip}:${p}`));
    store.containers.delete(row.id);
  }
  throw new DcmError('conflict', 'could not find free host ports; try again');
}

/** The typed allowlist: nothing here comes from user text except validated values. */
function buildSpec(deps: Deps, user: UserRow, row: ContainerRow, ports: number[], limits: { memory: number; cpus: number; pids: number }): ContainerSpec {
  const { config } = deps;
  const dirs = userDirs(config.storageDir, user.name);
  return {
    name: `${config.instance}-${row.id}`,
    hostname: (row.name ?? `${user.name}-${row.id}`).replace(/_/g, '-').slice(0, 63),
    image: row.image_id,
    labels: containerLabels(user.name, row.id, config.instance),
    entrypoint: ['/bin/sh', INIT_PATH],
    cmd: [],
    env: {
      DCM_USER: user.name,
      DCM_UID: String(user.uid),
      DCM_GID: String(user.gid),
      DCM_INSTANCE: row.instance,
    },
    mounts: [
      { source: dirs.root, target: '/root', readOnly: false },
      { source: dirs.home, target: `/home/${user.name}`, readOnly: false },
      { source: config.initScript, target: INIT_PATH, readOnly: true },
    ],
    publish: [
      { hostIp: row.ip, hostPort: row.id, containerPort: 22 },
      ...ports.map((p) => ({ hostIp: row.ip, hostPort: p, containerPort: p })),
    ],
    capAdd: [...BASE_CAPABILITIES],
    memoryBytes: limits.memory,
    nanoCpus: Math.round(limits.cpus * 1e9),
    pidsLimit: limits.pids,
  };
}
