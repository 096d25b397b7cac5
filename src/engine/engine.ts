/**
 * The narrow port dcm needs from a container engine. Everything passed in is
 * already validated and typed: full ids, allowlisted spec fields, never raw user
 * text. The Docker adapter applies the hardening (CapDrop ALL, no-new-privileges,
 * log rotation) itself, so no caller can build an unhardened container.
 */

/** One bind mount from the host into the container. */
export interface MountSpec {
  source: string;
  target: string;
  readOnly: boolean;
}

/** A host port published on one IP, to a container TCP port. */
export interface PublishSpec {
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

/**
 * A host device node given to the container (read/write, never mknod). GPU
 * nodes carry their inventory id, so an adapter that sees the NVIDIA runtime
 * can pass them as a device request instead.
 */
export interface DeviceSpec {
  hostPath: string;
  containerPath: string;
  gpuId?: string;
}

/** Everything that may vary between containers; the rest is fixed hardening. */
export interface ContainerSpec {
  /** Docker container name, made by dcm (never user text). */
  name: string;
  hostname: string;
  /** Full image id (sha256:...). */
  image: string;
  labels: Record<string, string>;
  /** Replaces the image's entrypoint; absent: the image's own (a job: its command runs as `docker run` would run it). */
  entrypoint?: string[];
  cmd: string[];
  env: Record<string, string>;
  mounts: MountSpec[];
  publish: PublishSpec[];
  /** Capabilities added back on top of CapDrop ALL. */
  capAdd: string[];
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  /** Device nodes granted by policy (GPUs); none when absent. */
  devices?: DeviceSpec[];
  /** Name of the (user's) bridge network to attach to; Docker's default bridge when absent. */
  network?: string;
  /** A batch job (`run`) instead of a container with sshd; absent for `create`. */
  job?: JobSpec;
}

/**
 * How a batch job's container differs from one with sshd: it runs as a set
 * user in a set directory, may have a terminal and an open stdin, is never
 * started again by the engine (restart policy "no"), and with `autoRemove`
 * the engine removes it when it ends, whether or not dcm is still there.
 */
export interface JobSpec {
  /** "uid:gid", numeric: never a name the image's /etc/passwd could redefine. */
  user: string;
  workingDir: string;
  tty: boolean;
  /** Keep stdin open for attaching. */
  openStdin: boolean;
  /** Close stdin when the first attached client leaves (an attached `run`). */
  stdinOnce: boolean;
  autoRemove: boolean;
}

/** A terminal's size in characters. */
export interface TtySize {
  cols: number;
  rows: number;
}

/**
 * A live connection to a container's (or an exec's) stdio. Output is handed
 * on piece by piece, each awaited before more is read (a slow reader holds the
 * engine back); input is written with back-pressure.
 */
export interface StdioStream {
  /** Writes to its stdin; resolves when more may be written. Ignored once closed. */
  write(data: Buffer): Promise<void>;
  /** Ends its stdin (EOF for the process). */
  endInput(): void;
  /**
   * Hands each piece of output on (with a terminal all of it is 'stdout'),
   * until the stream ends: the process ended, the attach was detached
   * (detach keys), or close() was called.
   */
  pump(onOut: (data: Buffer, to: 'stdout' | 'stderr') => Promise<void>): Promise<void>;
  close(): void;
}

/** What `exec` runs in a running container: argv (never a shell line), as whom, with or without a terminal and stdin. */
export interface ExecSpec {
  cmd: string[];
  user: string;
  workingDir: string;
  env: Record<string, string>;
  tty: boolean;
  stdin: boolean;
}

/** A bridge network with a subnet dcm chose (never one from Docker's default pools). */
export interface NetworkSpec {
  /** Docker network name, made by dcm (never user text). */
  name: string;
  /** IPv4 block a.b.c.d/n; the engine puts the gateway on its first address. */
  subnet: string;
  labels: Record<string, string>;
}

export interface NetworkStatus {
  id: string;
  name: string;
  /** IPv4 blocks of the network's IPAM configuration. */
  subnets: string[];
  labels: Record<string, string>;
}

export type RunState = 'running' | 'paused' | 'exited' | 'created' | 'restarting' | 'dead' | 'removing';

export interface ContainerStatus {
  id: string;
  state: RunState;
  /** e.g. "Up 5 minutes" as the engine words it; informative only. */
  status: string;
  labels: Record<string, string>;
  /** Networks the container is attached to: name → network id (as recorded when it was attached). */
  networks?: Record<string, string>;
  /** How it last ended (inspect only; absent from list): exit code of its PID 1, 0 before it ever ended. */
  exitCode?: number;
  /** Whether the kernel killed a process of it at its memory limit (kept by the engine until it is started again by hand). */
  oomKilled?: boolean;
  /** When it last ended (ISO time); absent when it never has. */
  finishedAt?: string;
  /** How many times the engine started it again on its own (restart policy). */
  restartCount?: number;
  /** Its restart policy as the engine holds it ('no' for one made before dcm set a policy). */
  restartPolicy?: string;
}

export interface ImageStatus {
  id: string;
  tags: string[];
  sizeBytes: number;
  created: string;
  labels: Record<string, string>;
  /** The image names a command of its own (Entrypoint or Cmd): what a job without a command runs. Inspect only. */
  hasCommand?: boolean;
}

/** What the engine says it is (Docker's /version). */
export interface EngineVersion {
  /** e.g. "20.10.24". */
  version: string;
  /** The Engine API version it serves, e.g. "1.41". */
  apiVersion: string;
}

/** One Engine API request as it would go over the socket (create --dry-run prints it). */
export interface EngineRequest {
  method: 'POST';
  /** Path and query, e.g. /containers/create?name=dcm-1a2b3c4d-20001. */
  path: string;
  body: unknown;
}

export interface Engine {
  ping(): Promise<void>;
  /** The engine's own version. */
  version(): Promise<EngineVersion>;
  createContainer(spec: ContainerSpec): Promise<string>;
  /** The request createContainer would send for `spec`, with the same hardening; nothing is sent. */
  createRequest(spec: ContainerSpec): Promise<EngineRequest>;
  start(id: string): Promise<void>;
  stop(id: string, timeoutSec: number): Promise<void>;
  restart(id: string, timeoutSec: number): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  remove(id: string, force: boolean): Promise<void>;
  /** null when the container does not exist. */
  inspect(id: string): Promise<ContainerStatus | null>;
  /** All containers carrying every given label (label=value or bare label). */
  list(labels: string[]): Promise<ContainerStatus[]>;
  /** `tty`: the container has a terminal (a job's), so its log is not framed. */
  logs(id: string, tail: number, tty?: boolean): Promise<string>;
  /**
   * The last `tail` lines, then new ones as they come, until the container
   * stops or `signal` aborts (then it resolves at once). Each piece is awaited
   * before more is read, so a slow reader holds the engine's stream back.
   */
  followLogs(id: string, tail: number, signal: AbortSignal, onText: (text: string) => Promise<void>, tty?: boolean): Promise<void>;
  /** Commits to a new untagged image and returns its id (tagging is a separate step, after the name is reserved). */
  commit(id: string, labels: Record<string, string>): Promise<string>;
  /** Gives an image the name repo:tag. */
  tag(imageId: string, repo: string, tag: string): Promise<void>;
  /** null when the image does not exist. */
  inspectImage(ref: string): Promise<ImageStatus | null>;
  /** Removes one tag (or the image when given an id); never forced. */
  removeImage(refOrId: string): Promise<void>;
  listImages(labels: string[]): Promise<ImageStatus[]>;
  /** The engine's own setup (user namespace mapping), asked afresh on each call. */
  info(): Promise<EngineInfo>;
  /**
   * Makes a bridge network; DcmError 'conflict' when the name exists or the
   * subnet overlaps another network's.
   */
  createNetwork(spec: NetworkSpec): Promise<string>;
  /** null when no network has this id or name. */
  inspectNetwork(idOrName: string): Promise<NetworkStatus | null>;
  /** Gone already counts as removed; DcmError 'conflict' while containers are attached. */
  removeNetwork(id: string): Promise<void>;
  /** Networks carrying every given label; all networks for []. */
  listNetworks(labels: string[]): Promise<NetworkStatus[]>;
  /** Gives a container the restart policy dcm makes containers with (restart-policy.ts); for ones made before. */
  setRestartPolicy(id: string): Promise<void>;
  /**
   * Attaches to a container's stdio (its stdin only when `stdin`); `tty`
   * says whether it was made with a terminal (its output is then not framed).
   */
  attach(id: string, o: { stdin: boolean; tty: boolean }): Promise<StdioStream>;
  /**
   * Waits until the container is not running and resolves with its exit code.
   * `next-exit` and `removed` (for an auto-removed one) must be asked before
   * the start: `registered` resolves once the engine has registered the wait.
   */
  waitFor(
    id: string,
    condition: 'not-running' | 'next-exit' | 'removed',
    signal?: AbortSignal,
  ): { registered: Promise<void>; exitCode: Promise<number> };
  /** Tells the container's terminal its new size. */
  resize(id: string, size: TtySize): Promise<void>;
  /** Makes an exec in a running container and returns its id. */
  createExec(id: string, spec: ExecSpec): Promise<string>;
  /** Starts an exec made by createExec, attached to its stdio. */
  startExec(execId: string, tty: boolean): Promise<StdioStream>;
  resizeExec(execId: string, size: TtySize): Promise<void>;
  /** The exit code of an exec that ended; null while it runs. */
  execExitCode(execId: string): Promise<number | null>;
  /**
   * Re-attaches a stopped container to the network now carrying this name
   * (after the one it was attached to was removed and made again).
   */
  reconnectNetwork(containerId: string, network: string): Promise<void>;
}

/** A contiguous run of ids: container ids containerId.. map to host ids hostId.. (size of them). */
export interface IdRange {
  containerId: number;
  hostId: number;
  size: number;
}

/**
 * How an engine started with `userns-remap` maps container ids to host ids.
 * `user` is the remap account whose /etc/subuid and /etc/subgid lines give the
 * ranges (null when no line matched and a single 65536-id range from the base is assumed).
 */
export interface UsernsRemap {
  user: string | null;
  uidBase: number;
  gidBase: number;
  uids: IdRange[];
  gids: IdRange[];
}

/** What dcm needs to know about the engine itself. */
export interface EngineInfo {
  /** null when containers share the host's user ids (no user namespace). */
  usernsRemap: UsernsRemap | null;
}
