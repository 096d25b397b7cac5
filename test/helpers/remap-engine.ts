/**
 * A second, private dockerd started with `--userns-remap`, for tests of dcm on
 * an engine with user namespaces. Everything it needs is made here and removed
 * by stop(): a remap account of its own (a system user plus its lines in
 * /etc/subuid and /etc/subgid, with a subordinate range large enough for dcm's
 * default uid range), a bridge on a private 10.217.X.0/24 subnet, and a data
 * root, exec root, socket and pid file in one temp directory. It never touches
 * the shared engine: --iptables=false (a second daemon managing the same
 * iptables chains would rewrite the first one's rules), so published ports are
 * served by docker-proxy, on loopback, as dcm publishes them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { BASE_IMAGE, run, type RunResult } from './env.js';

export interface RemapEngine {
  socket: string;
  /** The remap account and its subordinate ranges (the same for uids and gids). */
  user: string;
  base: number;
  count: number;
  /** The docker CLI against this engine. */
  docker(...args: string[]): Promise<RunResult>;
  stop(): Promise<void>;
}

/** Enough for dcm's default storage.uid_range (200000-299999) and more. */
const COUNT = 400_000;

const SUB_FILES = ['/etc/subuid', '/etc/subgid'];

/** A base no existing subordinate line overlaps. */
function freeBase(): number {
  const used = SUB_FILES.flatMap((f) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n') : []))
    .map((l) => l.split(':'))
    .filter((f) => f.length === 3)
    .map((f) => ({ lo: Number(f[1]), hi: Number(f[1]) + Number(f[2]) }));
  for (let i = 0; i < 50; i++) {
    const base = 1_000_000_000 + randomInt(0, 1000) * 1_000_000;
    if (used.every((u) => base + COUNT <= u.lo || base >= u.hi)) return base;
  }
  throw new Error('no free subordinate id range');
}

/** A 10.217.X.0/24 no host interface uses. */
async function freeSubnet(): Promise<number> {
  const addrs = (await run('ip', ['-4', '-o', 'addr'])).stdout;
  for (let i = 0; i < 50; i++) {
    const x = randomInt(1, 255);
    if (!addrs.includes(`10.217.${x}.`)) return x;
  }
  throw new Error('no free 10.217.X.0/24 subnet');
}

async function must(cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
}

export async function startRemapEngine(): Promise<RemapEngine> {
  const tag = randomBytes(3).toString('hex');
  const user = `dcmremap${tag}`;
  const bridge = `dcmux${tag}`;
  const dir = mkdtempSync(join(tmpdir(), 'dcm-remap-engine-'));
  // dockerd requires o+x on every directory above its remapped data root.
  chmodSync(dir, 0o711);
  const socket = join(dir, 'docker.sock');
  const pidFile = join(dir, 'docker.pid');
  let proc: ChildProcess | null = null;
  let base = 0;
  const undo: (() => Promise<void> | void)[] = [];

  const stop = async () => {
    if (proc && proc.exitCode === null && proc.pid) {
      const exited = new Promise<void>((r) => proc!.once('exit', () => r()));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc!.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    }
    for (const u of undo.reverse()) await u();
    // Mounts dockerd may have left below our directory (only ours, deepest first).
    const left = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(dir + '/'))
      .sort((a, b) => b.length - a.length);
    for (const m of left) await run('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await must('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
    undo.push(async () => {
      await run('userdel', [user]);
    });
    base = freeBase();
    const line = `${user}:${base}:${COUNT}\n`;
    for (const f of SUB_FILES) appendFileSync(f, line);
    undo.push(() => {
      for (const f of SUB_FILES) {
        if (!existsSync(f)) continue;
        const kept = readFileSync(f, 'utf8')
          .split('\n')
          .filter((l) => l !== line.trim());
        writeFileSync(f, kept.join('\n'));
      }
    });
    const x = await freeSubnet();
    await must('ip', ['link', 'add', bridge, 'type', 'bridge']);
    undo.push(async () => {
      await run('ip', ['link', 'del', bridge]);
    });
    await must('ip', ['addr', 'add', `10.217.${x}.1/24`, 'dev', bridge]);
    await must('ip', ['link', 'set', bridge, 'up']);

    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'exec'));
    const log = openSync(join(dir, 'dockerd.log'), 'a');
    proc = spawn(
      'dockerd',
      [
        `--userns-remap=${user}`,
        '--data-root',
        join(dir, 'data'),
        '--exec-root',
        join(dir, 'exec'),
        '-H',
        `unix://${socket}`,
        '--pidfile',
        pidFile,
        `--bridge=${bridge}`,
        '--iptables=false',
        '--ip-masq=false',
        '--ip-forward=false',
      ],
      { stdio: ['ignore', log, log] },
    );
    const docker = (...args: string[]) => run('docker', ['-H', `unix://${socket}`, ...args]);
    const deadline = Date.now() + 30_000;
    while ((await docker('info', '--format', '{{.ID}}')).code !== 0) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `dockerd --userns-remap did not start: ${readFileSync(join(dir, 'dockerd.log'), 'utf8').split('\n').slice(-5).join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const load = await run('bash', ['-o', 'pipefail', '-c', `docker save ${BASE_IMAGE} | docker -H unix://${socket} load`]);
    if (load.code !== 0) throw new Error(`loading ${BASE_IMAGE}: ${load.stderr}`);
    return { socket, user, base, count: COUNT, docker, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
