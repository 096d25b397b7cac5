/**
 * A private dockerd for tests that stop, freeze and restart the engine: its
 * own data root, exec root, socket, pid file and bridge (on a private
 * 10.218.X.0/24), so the shared engine other tests use is never touched.
 * --iptables=false: a second daemon managing the same iptables chains would
 * rewrite the first one's rules; published ports are then served by
 * docker-proxy, on loopback, as dcm publishes them. The daemon is signalled
 * by the PID of the process this helper spawned, never by name. The base
 * image is copied in from the shared engine (docker save | docker load).
 * stop() removes the engine's containers and networks (all the test's), then
 * the daemon, its bridge, whatever prepare() made and its directories.
 * remap-engine.ts starts its --userns-remap daemon with this same starter.
 * powerCut() is a host that loses power: every process of this engine is
 * killed at once and what a reboot clears (its exec root, its bridges) is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { BASE_IMAGE, TestEnv, run, type RunResult } from './env.js';

export interface OwnEngine {
  socket: string;
  /** The docker CLI against this engine. */
  docker(...args: string[]): Promise<RunResult>;
  /** PID of the running dockerd (the process this helper spawned). */
  pid(): number;
  /** SIGTERM to the daemon, as a service manager stops it; resolves when it has exited (it stops its containers first). */
  stopDaemon(): Promise<void>;
  /** Starts the daemon again with the same data root and socket; resolves when it answers. */
  startDaemon(): Promise<void>;
  /** SIGSTOP / SIGCONT: a daemon that holds its socket open and answers nothing. */
  freeze(): void;
  thaw(): void;
  /**
   * The host loses power: SIGKILL to dockerd, its containerd, every shim and
   * every container process of this engine at once (no stop, no clean-up),
   * then what a reboot clears: the exec root (on /run, a tmpfs, on a real
   * host) and the bridges of the engine's networks. Start it with startDaemon().
   */
  powerCut(): Promise<{ killed: number }>;
  /** Stops the daemon and removes everything this helper made. */
  stop(): Promise<void>;
}

/** How one private daemon differs from another (the defaults are the plain own engine's). */
export interface OwnEngineOptions {
  /** Its bridge is <bridgePrefix><random tag> on a private 10.<net>.X.0/24; its directory dcm-<name>-XXXXXX. */
  name?: string;
  bridgePrefix?: string;
  net?: number;
  /** dockerd flags of its own. */
  args?: (tag: string) => string[];
  /**
   * Runs before the daemon first starts, with its directory and this start's
   * random tag; what it registers with undo() is undone by stop() (last first).
   */
  prepare?: (dir: string, tag: string, undo: (fn: () => Promise<void> | void) => void) => Promise<void>;
}

/** A 10.NET.X.0/24 no host interface uses. */
async function freeSubnet(net: number): Promise<number> {
  const addrs = (await run('ip', ['-4', '-o', 'addr'])).stdout;
  for (let i = 0; i < 50; i++) {
    const x = randomInt(1, 255);
    if (!addrs.includes(`10.${net}.${x}.`)) return x;
  }
  throw new Error(`no free 10.${net}.X.0/24 subnet`);
}

export async function must(cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** The cgroups (paths below a hierarchy's root) of the containers among `pids`: the engine puts each in /docker/<container id>. */
function containerCgroups(pids: number[]): string[] {
  const groups = new Set<string>();
  for (const pid of pids) {
    try {
      for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
        const path = line.split(':').slice(2).join(':');
        if (/^\/docker\/[0-9a-f]{64}$/.test(path)) groups.add(path);
      }
    } catch {
      // gone while we looked
    }
  }
  return [...groups];
}

/** Every directory of these cgroups, in each v1 hierarchy and in the v2 one. */
function cgroupDirs(groups: string[]): string[] {
  const roots = readdirSync('/sys/fs/cgroup').map((h) => `/sys/fs/cgroup/${h}`);
  return groups.flatMap((g) => [...roots.map((r) => r + g), `/sys/fs/cgroup${g}`]).filter((d) => existsSync(d));
}

/** Lazily unmounts every mount below `dir` (only ours, deepest first). */
async function unmountBelow(dir: string): Promise<void> {
  const left = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of left) await run('umount', ['-l', m]);
}

export async function startOwnEngine(o: OwnEngineOptions = {}): Promise<OwnEngine> {
  const net = o.net ?? 218;
  const tag = randomBytes(3).toString('hex');
  const bridge = `${o.bridgePrefix ?? 'dcmoe'}${tag}`;
  const dir = mkdtempSync(join(tmpdir(), `dcm-${o.name ?? 'own-engine'}-`));
  const socket = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const extraArgs = o.args?.(tag) ?? [];
  let proc: ChildProcess | null = null;
  const undo: (() => Promise<void> | void)[] = [];
  const docker = (...args: string[]) => run('docker', ['-H', `unix://${socket}`, ...args]);

  const alive = () => proc !== null && proc.exitCode === null && proc.signalCode === null;

  const stopDaemon = async () => {
    if (!proc || !alive()) return;
    const p = proc;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGCONT'); // a frozen daemon cannot act on SIGTERM
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(t);
  };

  const startDaemon = async () => {
    if (alive()) throw new Error('dockerd is already running');
    const log = openSync(logFile, 'a');
    proc = spawn(
      'dockerd',
      [
        ...extraArgs,
        '--data-root',
        join(dir, 'data'),
        '--exec-root',
        join(dir, 'exec'),
        '-H',
        `unix://${socket}`,
        '--pidfile',
        join(dir, 'docker.pid'),
        `--bridge=${bridge}`,
        '--iptables=false',
        '--ip-masq=false',
        '--ip-forward=false',
      ],
      { stdio: ['ignore', log, log] },
    );
    const deadline = Date.now() + 30_000;
    while ((await docker('info', '--format', '{{.ID}}')).code !== 0) {
      if (!alive() || Date.now() > deadline) {
        throw new Error(
          `${['dockerd', ...extraArgs].join(' ')} did not start: ${readFileSync(logFile, 'utf8').split('\n').slice(-5).join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /** PIDs of this engine's processes: the daemon's descendants, and shims (re-parented to init) that name its exec root. */
  const engineProcesses = (): number[] => {
    const children = new Map<number, number[]>();
    const mine = new Set<number>();
    const execRoot = join(dir, 'exec') + '/';
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
        if (
          readFileSync(`/proc/${e}/cmdline`, 'utf8')
            .split('\0')
            .some((a) => a.startsWith(execRoot))
        )
          mine.add(Number(e));
      } catch {
        // gone while we looked
      }
    }
    if (proc?.pid && alive()) mine.add(proc.pid);
    const todo = [...mine];
    while (todo.length) for (const c of children.get(todo.pop()!) ?? []) if (!mine.has(c)) todo.push(c), mine.add(c);
    return [...mine];
  };

  const powerCut = async () => {
    const bridges = (await docker('network', 'ls', '-q', '--filter', 'driver=bridge')).stdout
      .split('\n')
      .filter(Boolean)
      .map((id) => `br-${id.slice(0, 12)}`);
    const exited = proc && alive() ? new Promise<void>((r) => proc!.once('exit', () => r())) : Promise.resolve();
    const pids = engineProcesses();
    const groups = containerCgroups(pids);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // A paused container's processes are frozen, and a frozen process acts on
    // SIGKILL only once thawed (cgroup v1): thaw them so they die, as power loss would have it.
    for (const g of groups) {
      for (const [file, value] of [
        [`/sys/fs/cgroup/freezer${g}/freezer.state`, 'THAWED'],
        [`/sys/fs/cgroup${g}/cgroup.freeze`, '0'],
      ]) {
        if (existsSync(file)) writeFileSync(file, value);
      }
    }
    await exited;
    for (const deadline = Date.now() + 10_000; pids.some((p) => existsSync(`/proc/${p}`)); ) {
      if (Date.now() > deadline) throw new Error(`still alive after SIGKILL: ${pids.filter((p) => existsSync(`/proc/${p}`)).join(' ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // A reboot: no cgroup of the engine's containers survives (they are empty now),
    for (const dir of cgroupDirs(groups)) {
      try {
        rmdirSync(dir);
      } catch {
        // not there under this controller
      }
    }
    // no mount of the engine's survives, the exec root's tmpfs is empty, the networks' bridges are gone.
    await unmountBelow(dir);
    rmSync(join(dir, 'exec'), { recursive: true, force: true });
    mkdirSync(join(dir, 'exec'));
    for (const b of bridges) await run('ip', ['link', 'del', b]);
    return { killed: pids.length };
  };

  const stop = async () => {
    if (alive()) {
      proc!.kill('SIGCONT');
      // Everything in this engine is the test's: its networks' bridges would outlive the daemon.
      const ids = (await docker('ps', '-aq')).stdout.split('\n').filter(Boolean);
      if (ids.length) await docker('rm', '-f', ...ids);
      await docker('network', 'prune', '-f');
    }
    await stopDaemon();
    for (const u of undo.splice(0).reverse()) await u();
    // Mounts dockerd may have left below our directory.
    await unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await o.prepare?.(dir, tag, (fn) => undo.push(fn));
    const x = await freeSubnet(net);
    await must('ip', ['link', 'add', bridge, 'type', 'bridge']);
    undo.push(async () => {
      await run('ip', ['link', 'del', bridge]);
    });
    await must('ip', ['addr', 'add', `10.${net}.${x}.1/24`, 'dev', bridge]);
    await must('ip', ['link', 'set', bridge, 'up']);
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'exec'));
    await startDaemon();
    const load = await run('bash', ['-o', 'pipefail', '-c', `docker save ${BASE_IMAGE} | docker -H unix://${socket} load`]);
    if (load.code !== 0) throw new Error(`loading ${BASE_IMAGE}: ${load.stderr}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    socket,
    docker,
    pid: () => {
      if (!proc?.pid || !alive()) throw new Error('dockerd is not running');
      return proc.pid;
    },
    stopDaemon,
    startDaemon,
    freeze: () => proc?.kill('SIGSTOP'),
    thaw: () => proc?.kill('SIGCONT'),
    powerCut,
    stop,
  };
}

/**
 * An installation whose engine is `engine`, with the base image registered;
 * `extraPorts` ("LOW-HIGH", already shifted) are the host ports users may publish.
 */
export async function installationOn(engine: OwnEngine, o: { tag: string; sshPorts: string; extraPorts: string }): Promise<TestEnv> {
  const env = new TestEnv({ tag: o.tag, sshPorts: o.sshPorts, extraYaml: `engine: { socket: "${engine.socket}" }\n` });
  writeFileSync(env.configFile, readFileSync(env.configFile, 'utf8').replace('network:\n', `network:\n  extra_ports: "${o.extraPorts}"\n`));
  await env.registerBase();
  return env;
}
