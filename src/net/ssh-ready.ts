/**
 * Waits until an sshd answers behind a published port. A TCP connect alone is
 * not enough: Docker's proxy accepts connections before sshd in the container
 * listens, so we wait for the "SSH-2.0-" banner.
 */
import { connect } from 'node:net';

function bannerOnce(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: ip, port });
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.startsWith('SSH-')) done(true);
      else if (buf.length >= 4) done(false);
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

/**
 * How long one probe waits for the banner: 2 s at first, doubled after each
 * probe that got no answer in time, up to 20 s. An sshd on a loaded machine
 * (a burst of creates, a container held to a fraction of a CPU) may take
 * longer than 2 s to answer every connection: sshd forks and re-executes
 * itself for each one. A fixed 2 s then never sees the banner, and every probe
 * given up leaves an unauthenticated connection that counts against sshd's
 * MaxStartups, which then starts dropping new ones: the wait fed itself.
 */
const FIRST_PROBE_MS = 2000;
const MAX_PROBE_MS = 20_000;
/**
 * Pause after a probe that failed at once (refused, or closed by Docker's
 * proxy while sshd does not listen yet): 15 ms for the first second, since
 * sshd is usually up within 50-150 ms of start; then growing by half up to
 * 500 ms, so that 200 containers starting at once are not probed 60 times a
 * second each.
 */
const FAST_PAUSE_MS = 15;
const FAST_FOR_MS = 1000;
const MAX_PAUSE_MS = 500;

/** Resolves true once the banner is seen, false when timeoutMs passes first. */
export async function waitForSsh(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  // A wildcard bind is reached over loopback.
  const target = ip === '0.0.0.0' ? '127.0.0.1' : ip;
  const start = Date.now();
  const deadline = start + timeoutMs;
  let probeMs = FIRST_PROBE_MS;
  let pauseMs = FAST_PAUSE_MS;
  while (Date.now() < deadline) {
    const t0 = Date.now();
    const wait = Math.min(probeMs, Math.max(50, deadline - t0));
    if (await bannerOnce(target, port, wait)) return true;
    if (Date.now() - t0 >= wait) {
      probeMs = Math.min(MAX_PROBE_MS, probeMs * 2); // no answer in time: sshd is slow, give it longer
      continue;
    }
    await new Promise((r) => setTimeout(r, Math.min(pauseMs, Math.max(0, deadline - Date.now()))));
    if (Date.now() - start > FAST_FOR_MS) pauseMs = Math.min(MAX_PAUSE_MS, pauseMs * 1.5);
  }
  return false;
}
