/**
 * Engine port implemented with dockerode over the local Docker socket.
 *
 * The hardening lives here, not in callers: every container gets CapDrop ALL
 * plus only the capabilities in the spec, no-new-privileges, a pids limit,
 * memory/CPU limits, log rotation, the default seccomp profile, no host
 * namespaces, no devices and no mounts beyond the spec's. GPUs go as device
 * nodes, or as NVIDIA device requests when that runtime is installed.
 */
import type Docker from 'dockerode';
import { DcmError } from '../errors.js';
import { remapOfLocalEngine } from './userns-remap.js';
import { dockerAtSocket } from './docker-client.js';
import type { Duplex } from 'node:stream';
import type {
  ContainerSpec,
  ContainerStatus,
  Engine,
  EngineInfo,
  EngineRequest,
  EngineVersion,
  ExecSpec,
  ImageStatus,
  NetworkSpec,
  NetworkStatus,
  RunState,
  StdioStream,
  TtySize,
} from './engine.js';
import { stdioStream } from './stdio-stream.js';
import type { Dialer } from './capped-logs.js';
import { tailLogs } from './capped-logs.js';
import { followLogs } from './follow-logs.js';
import { exitFacts } from './exit-facts.js';
import { RESTART_POLICY } from './restart-policy.js';

/** Docker errors carry an HTTP status; 404 means "no such object". */
function statusOf(e: unknown): number | undefined {
  return (e as { statusCode?: number }).statusCode;
}

function isConnError(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES' || code === 'ECONNRESET' || code === 'EPIPE';
}

/** Map a Docker failure to one user-facing line; the engine's text goes to adminDetail. */
function wrap(action: string, e: unknown): DcmError {
  if (e instanceof DcmError) return e;
  if (isConnError(e)) return new DcmError('unavailable', 'container engine unavailable', String(e));
  const msg = (e as { json?: { message?: string } }).json?.message ?? (e as Error).message ?? String(e);
  const st = statusOf(e);
  if (st === 404) return new DcmError('not-found', `${action}: not found`, msg);
  if (st === 409) return new DcmError('conflict', `${action}: ${msg}`, msg);
  return new DcmError('internal', `${action} failed`, msg);
}

export class DockerEngine implements Engine {
  private readonly docker: Docker;
  private nvidia: Promise<boolean> | null = null;

  constructor(socketPath = '/var/run/docker.sock') {
    this.docker = dockerAtSocket(socketPath); // the configured socket only, whatever DOCKER_HOST says
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (e) {
      throw new DcmError('unavailable', 'container engine unavailable', String(e));
    }
  }

  async version(): Promise<EngineVersion> {
    try {
      const v = (await this.docker.version()) as { Version?: string; ApiVersion?: string };
      return { version: v.Version ?? 'unknown', apiVersion: v.ApiVersion ?? 'unknown' };
    } catch (e) {
      throw wrap('engine version', e);
    }
  }

  async createContainer(s: ContainerSpec): Promise<string> {
    const { query, body } = await this.createBody(s);
    try {
      // _query and _body: the name goes in the query and only the body in the body (dockerode
      // would otherwise repeat every field in the query string); createRequest shows exactly this.
      const c = await this.docker.createContainer({ _query: query, _body: body } as unknown as Docker.ContainerCreateOptions);
      return c.id;
    } catch (e) {
      throw wrap('create container', e);
    }
  }

  async createRequest(s: ContainerSpec): Promise<EngineRequest> {
    const { query, body } = await this.createBody(s);
    return { method: 'POST', path: `/containers/create?${new URLSearchParams(query).toString()}`, body };
  }

  /** The Engine API create request for a spec: the fixed hardening plus the spec's allowlisted values. */
  private async createBody(s: ContainerSpec): Promise<{ query: { name: string }; body: Record<string, unknown> }> {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of s.publish) {
      const key = `${p.containerPort}/tcp`;
      exposed[key] = {};
      bindings[key] = [...(bindings[key] ?? []), { HostIp: p.hostIp, HostPort: String(p.hostPort) }];
    }
    // Users' containers never join Docker's default bridge, where every container reaches every other.
    if (!s.network)
      throw new DcmError(
        'internal',
        'the container has no network of its own',
        'ContainerSpec.network missing: refusing the default bridge',
      );
    const devices = s.devices ?? [];
    const gpuIds = [...new Set(devices.filter((d) => d.gpuId !== undefined).map((d) => d.gpuId!))];
    const asRequest = gpuIds.length > 0 && (await this.hasNvidiaRuntime());
    // With the NVIDIA runtime, the runtime adds the GPU's nodes itself.
    const nodes = asRequest ? devices.filter((d) => d.gpuId === undefined) : devices;
    const body = {
      Hostname: s.hostname,
      Image: s.image,
      Labels: s.labels,
      Entrypoint: s.entrypoint,
      Cmd: s.cmd,
      Env: Object.entries(s.env).map(([k, v]) => `${k}=${v}`),
      ExposedPorts: exposed,
      NetworkingConfig: { EndpointsConfig: { [s.network]: {} } },
      // A job runs as the user dcm chose (numeric), where dcm chose; a container with sshd keeps its PID 1 root.
      ...(s.job ? { User: s.job.user, WorkingDir: s.job.workingDir } : {}),
      Tty: s.job?.tty ?? false,
      OpenStdin: s.job?.openStdin ?? false,
      StdinOnce: s.job?.stdinOnce ?? false,
      AttachStdin: false,
      AttachStdout: s.job !== undefined,
      AttachStderr: s.job !== undefined,
      HostConfig: {
        Binds: s.mounts.map((m) => `${m.source}:${m.target}:${m.readOnly ? 'ro' : 'rw'}`),
        PortBindings: bindings,
        CapDrop: ['ALL'],
        CapAdd: s.capAdd,
        SecurityOpt: ['no-new-privileges:true'],
        PidsLimit: s.pidsLimit,
        Memory: s.memoryBytes,
        MemorySwap: s.memoryBytes, // no swap beyond the memory limit
        NanoCpus: s.nanoCpus,
        Devices: nodes.map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.containerPath, CgroupPermissions: 'rw' })),
        ...(asRequest ? { Runtime: 'nvidia', DeviceRequests: [{ Driver: 'nvidia', DeviceIDs: gpuIds, Capabilities: [['gpu']] }] } : {}),
        Privileged: false,
        ReadonlyRootfs: false,
        NetworkMode: s.network,
        IpcMode: 'private',
        PidMode: '',
        Init: false,
        // Back after an engine or host restart when it was running; a container the user stopped
        // (an API stop or kill) stays stopped. See restart-policy.ts. A job that ended stays ended.
        RestartPolicy: { Name: s.job ? 'no' : RESTART_POLICY },
        AutoRemove: s.job?.autoRemove ?? false,
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      },
    };
    return { query: { name: s.name }, body };
  }

  /** Whether dockerd has the NVIDIA runtime; asked once per process (asked again after a failed ask: the engine may have been down). */
  private hasNvidiaRuntime(): Promise<boolean> {
    this.nvidia ??= this.docker
      .info()
      .then((i: { Runtimes?: Record<string, unknown> }) => Object.keys(i.Runtimes ?? {}).includes('nvidia'))
      .catch(() => {
        this.nvidia = null;
        return false;
      });
    return this.nvidia;
  }

  async start(id: string): Promise<void> {
    await this.call('start', () => this.docker.getContainer(id).start(), 304);
  }

  async stop(id: string, timeoutSec: number): Promise<void> {
    await this.call('stop', () => this.docker.getContainer(id).stop({ t: timeoutSec }), 304);
  }

  async restart(id: string, timeoutSec: number): Promise<void> {
    await this.call('restart', () => this.docker.getContainer(id).restart({ t: timeoutSec }));
  }

  async pause(id: string): Promise<void> {
    await this.call('pause', () => this.docker.getContainer(id).pause());
  }

  async unpause(id: string): Promise<void> {
    await this.call('unpause', () => this.docker.getContainer(id).unpause());
  }

  async remove(id: string, force: boolean): Promise<void> {
    await this.call('remove', () => this.docker.getContainer(id).remove({ force, v: true }), 404);
  }

  async inspect(id: string): Promise<ContainerStatus | null> {
    try {
      const i = await this.docker.getContainer(id).inspect();
      return {
        id: i.Id,
        state: (i.State.Status as RunState) ?? 'dead',
        status: i.State.Status,
        labels: i.Config.Labels ?? {},
        networks: Object.fromEntries(Object.entries(i.NetworkSettings?.Networks ?? {}).map(([n, v]) => [n, v.NetworkID])),
        ...exitFacts(i),
      };
    } catch (e) {
      if (statusOf(e) === 404) return null;
      throw wrap('inspect', e);
    }
  }

  async list(labels: string[]): Promise<ContainerStatus[]> {
    try {
      const rows = await this.docker.listContainers({ all: true, filters: JSON.stringify({ label: labels }) });
      return rows.map((r) => ({ id: r.Id, state: r.State as RunState, status: r.Status, labels: r.Labels ?? {} }));
    } catch (e) {
      throw wrap('list containers', e);
    }
  }

  async logs(id: string, tail: number, tty = false): Promise<string> {
    try {
      return await tailLogs(this.docker, id, tail, undefined, tty); // streamed, at most LOGS_MAX_BYTES kept
    } catch (e) {
      throw wrap('logs', e);
    }
  }

  async followLogs(id: string, tail: number, signal: AbortSignal, onText: (text: string) => Promise<void>, tty = false): Promise<void> {
    try {
      await followLogs(this.docker, id, tail, signal, onText, tty); // paced by the reader, torn down on abort
    } catch (e) {
      throw wrap('logs', e);
    }
  }

  async commit(id: string, labels: Record<string, string>): Promise<string> {
    try {
      const r = (await this.docker
        .getContainer(id)
        .commit({ pause: true, changes: Object.entries(labels).map(([k, v]) => `LABEL ${k}=${v}`) })) as { Id: string };
      return r.Id;
    } catch (e) {
      throw wrap('commit', e);
    }
  }

  async tag(imageId: string, repo: string, tag: string): Promise<void> {
    await this.call('tag', () => this.docker.getImage(imageId).tag({ repo, tag }));
  }

  async inspectImage(ref: string): Promise<ImageStatus | null> {
    try {
      const i = await this.docker.getImage(ref).inspect();
      return {
        id: i.Id,
        tags: i.RepoTags ?? [],
        sizeBytes: i.Size,
        created: i.Created,
        labels: i.Config?.Labels ?? {},
        hasCommand: (i.Config?.Entrypoint?.length ?? 0) > 0 || (i.Config?.Cmd?.length ?? 0) > 0,
      };
    } catch (e) {
      if (statusOf(e) === 404) return null;
      throw wrap('inspect image', e);
    }
  }

  async removeImage(refOrId: string): Promise<void> {
    await this.call('remove image', () => this.docker.getImage(refOrId).remove({ force: false, noprune: false }), 404);
  }

  async listImages(labels: string[]): Promise<ImageStatus[]> {
    try {
      const rows = await this.docker.listImages({ filters: JSON.stringify({ label: labels }) });
      return rows.map((r) => ({
        id: r.Id,
        tags: r.RepoTags ?? [],
        sizeBytes: r.Size,
        created: new Date(r.Created * 1000).toISOString(),
        labels: r.Labels ?? {},
      }));
    } catch (e) {
      throw wrap('list images', e);
    }
  }

  async info(): Promise<EngineInfo> {
    let i: { SecurityOptions?: string[]; DockerRootDir?: string };
    try {
      i = await this.docker.info();
    } catch (e) {
      throw wrap('engine info', e);
    }
    return { usernsRemap: remapOfLocalEngine({ securityOptions: i.SecurityOptions ?? [], dockerRootDir: i.DockerRootDir ?? '' }) };
  }

  async createNetwork(n: NetworkSpec): Promise<string> {
    try {
      const net = await this.docker.createNetwork({
        Name: n.name,
        CheckDuplicate: true,
        Driver: 'bridge',
        Internal: false,
        Attachable: false,
        EnableIPv6: false,
        IPAM: { Driver: 'default', Config: [{ Subnet: n.subnet }] },
        Labels: n.labels,
      });
      return net.id;
    } catch (e) {
      // 403 "Pool overlaps with other one on this address space": the block is
      // taken by a network dcm does not know (another installation, the admin).
      if (statusOf(e) === 403) throw new DcmError('conflict', `create network: subnet ${n.subnet} is in use`, String(e));
      throw wrap('create network', e);
    }
  }

  async inspectNetwork(idOrName: string): Promise<NetworkStatus | null> {
    try {
      return networkStatus(await this.docker.getNetwork(idOrName).inspect());
    } catch (e) {
      if (statusOf(e) === 404) return null;
      throw wrap('inspect network', e);
    }
  }

  async removeNetwork(id: string): Promise<void> {
    try {
      await this.docker.getNetwork(id).remove();
    } catch (e) {
      if (statusOf(e) === 404) return;
      // Docker says 403 "has active endpoints" while containers are attached.
      const msg = (e as { json?: { message?: string } }).json?.message ?? String(e);
      if (statusOf(e) === 403 || statusOf(e) === 409) throw new DcmError('conflict', `remove network: ${msg}`, msg);
      throw wrap('remove network', e);
    }
  }

  async listNetworks(labels: string[]): Promise<NetworkStatus[]> {
    try {
      const rows = await this.docker.listNetworks(labels.length ? { filters: JSON.stringify({ label: labels }) } : {});
      return rows.map(networkStatus);
    } catch (e) {
      throw wrap('list networks', e);
    }
  }

  async setRestartPolicy(id: string): Promise<void> {
    await this.call('update', () => this.docker.getContainer(id).update({ RestartPolicy: { Name: RESTART_POLICY } }));
  }

  async attach(id: string, o: { stdin: boolean; tty: boolean }): Promise<StdioStream> {
    try {
      const sock = (await this.docker.getContainer(id).attach({
        hijack: true,
        stream: true,
        stdin: o.stdin,
        stdout: true,
        stderr: true,
        // dcm watches for Ctrl-P Ctrl-Q itself (jobs.ts), on a terminal only; the engine's own detach
        // keys (Ctrl-P Ctrl-Q unless told otherwise) would end the stream unseen, also in piped input.
        detachKeys: 'ctrl-y,ctrl-x,ctrl-q,ctrl-z,ctrl-y,ctrl-x,ctrl-q,ctrl-z',
      })) as unknown as Duplex;
      return stdioStream(sock, o.tty);
    } catch (e) {
      throw wrap('attach', e);
    }
  }

  waitFor(
    id: string,
    condition: 'not-running' | 'next-exit' | 'removed',
    signal?: AbortSignal,
  ): { registered: Promise<void>; exitCode: Promise<number> } {
    const modem = this.docker.modem as Dialer;
    let registered!: (e?: unknown) => void;
    const reg = new Promise<void>((res, rej) => (registered = (e) => (e ? rej(wrap('wait', e)) : res())));
    const exitCode = new Promise<number>((resolve, reject) => {
      // As a stream: the engine sends the headers once the wait is registered, the body when it is over.
      modem.dial(
        {
          path: `/containers/${encodeURIComponent(id)}/wait?`,
          method: 'POST',
          isStream: true,
          ...(signal ? { abortSignal: signal } : {}),
          statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
          options: { condition },
        },
        (err, res) => {
          if (err || !res) {
            registered(err ?? new Error('no answer'));
            return reject(wrap('wait', err ?? new Error('no answer')));
          }
          registered();
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            try {
              const j = JSON.parse(body) as { StatusCode?: number; Error?: { Message?: string } | null };
              if (typeof j.StatusCode !== 'number') throw new Error(body);
              resolve(j.StatusCode);
            } catch (e) {
              reject(wrap('wait', e));
            }
          });
          res.on('error', (e: unknown) => reject(wrap('wait', e)));
        },
      );
    });
    reg.catch(() => undefined);
    return { registered: reg, exitCode };
  }

  async resize(id: string, size: TtySize): Promise<void> {
    await this.call('resize', () => this.docker.getContainer(id).resize({ h: size.rows, w: size.cols }));
  }

  async createExec(id: string, x: ExecSpec): Promise<string> {
    try {
      const ex = await this.docker.getContainer(id).exec({
        Cmd: x.cmd,
        User: x.user,
        WorkingDir: x.workingDir,
        Env: Object.entries(x.env).map(([k, v]) => `${k}=${v}`),
        Tty: x.tty,
        AttachStdin: x.stdin,
        AttachStdout: true,
        AttachStderr: true,
        Privileged: false,
      });
      return ex.id;
    } catch (e) {
      throw wrap('exec', e);
    }
  }

  async startExec(execId: string, tty: boolean): Promise<StdioStream> {
    try {
      const sock = (await this.docker.getExec(execId).start({ hijack: true, stdin: true, Detach: false, Tty: tty })) as unknown as Duplex;
      return stdioStream(sock, tty);
    } catch (e) {
      throw wrap('exec', e);
    }
  }

  async resizeExec(execId: string, size: TtySize): Promise<void> {
    await this.call('resize', () => this.docker.getExec(execId).resize({ h: size.rows, w: size.cols }));
  }

  async execExitCode(execId: string): Promise<number | null> {
    try {
      const i = await this.docker.getExec(execId).inspect();
      return i.Running ? null : (i.ExitCode ?? null);
    } catch (e) {
      throw wrap('exec', e);
    }
  }

  async reconnectNetwork(containerId: string, network: string): Promise<void> {
    // Forced, the engine drops the container's entry for that name even though
    // the network it recorded is gone; then it attaches it to the new one.
    await this.call('disconnect network', () => this.docker.getNetwork(network).disconnect({ Container: containerId, Force: true }), 404);
    await this.call('connect network', () => this.docker.getNetwork(network).connect({ Container: containerId }));
  }

  /** Run a call; a status in `okStatus` (e.g. 304 "already started") counts as success. */
  private async call(action: string, fn: () => Promise<unknown>, okStatus?: number): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (okStatus !== undefined && statusOf(e) === okStatus) return;
      throw wrap(action, e);
    }
  }
}

/** The fields dcm reads from a network, as list and inspect both return them. */
function networkStatus(n: {
  Id: string;
  Name: string;
  Labels?: Record<string, string>;
  IPAM?: { Config?: { Subnet?: string }[] };
}): NetworkStatus {
  const subnets = (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter((s) => s.includes('.'));
  return { id: n.Id, name: n.Name, subnets, labels: n.Labels ?? {} };
}
