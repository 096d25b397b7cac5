// Lives in policy-io, not policy: it spawns `stat` processes, and policy/ stays pure.
/**
 * Probing mount sources and device nodes before anything is created. A missing source would make
 * Docker create an empty root-owned directory on the host, and a hung network
 * filesystem would hang the create; both become one clear error instead.
 *
 * The probe runs `stat` in a child process with our own timer: fs.stat on a hung
 * NFS mount would block a libuv worker thread for good, and a child stuck in
 * uninterruptible sleep may never exit, so we stop waiting rather than wait for it.
 */
import { spawn } from 'node:child_process';
import { DcmError } from '../errors.js';

/** Result of probing one path. */
export type ProbeResult = 'ok' | 'missing' | 'timeout';

/** How a path is probed; tests swap in a fake that never answers. */
export type PathProber = (path: string, timeoutMs: number) => Promise<ProbeResult>;

export const statProber: PathProber = (path, timeoutMs) =>
  new Promise((resolve) => {
    const child = spawn('stat', ['-L', '--', path], { stdio: 'ignore' });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      child.unref();
      resolve('timeout');
    }, timeoutMs);
    child.on('error', () => {
      clearTimeout(timer);
      resolve('missing');
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? 'ok' : 'missing');
    });
  });

/** Probes every mount source in parallel; throws one line naming the first bad mount. */
export function probeMounts(mounts: { name: string; source: string }[], timeoutMs: number, prober: PathProber = statProber): Promise<void> {
  return probePaths(
    mounts.map((m) => ({ label: `mount ${m.name}`, path: m.source })),
    timeoutMs,
    prober,
  );
}

/** Same for device nodes (GPUs): a missing node is a clear error, not Docker's. */
export function probeDevices(
  devices: { label: string; path: string }[],
  timeoutMs: number,
  prober: PathProber = statProber,
): Promise<void> {
  return probePaths(devices, timeoutMs, prober);
}

async function probePaths(entries: { label: string; path: string }[], timeoutMs: number, prober: PathProber): Promise<void> {
  // Bounded here too, whatever the prober does.
  const bounded = (path: string) =>
    new Promise<ProbeResult>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), timeoutMs + 50);
      prober(path, timeoutMs).then(
        (r) => {
          clearTimeout(t);
          resolve(r);
        },
        () => {
          clearTimeout(t);
          resolve('missing');
        },
      );
    });
  const results = await Promise.all(entries.map((m) => bounded(m.path)));
  entries.forEach((m, i) => {
    if (results[i] === 'missing') {
      throw new DcmError(
        'unavailable',
        `${m.label} is unavailable: its host path does not exist; nothing was created (tell the administrator)`,
        `${m.label}: ${m.path} is missing`,
      );
    }
    if (results[i] === 'timeout') {
      throw new DcmError(
        'unavailable',
        `${m.label} is unavailable: its host path did not answer within ${timeoutMs / 1000}s; nothing was created (tell the administrator)`,
        `${m.label}: ${m.path} hung`,
      );
    }
  });
}
