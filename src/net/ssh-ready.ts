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

/** Resolves true once the banner is seen, false when timeoutMs passes first. */
export async function waitForSsh(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  // A wildcard bind is reached over loopback.
  const target = ip === '0.0.0.0' ? '127.0.0.1' : ip;
  const deadline = Date.now() + timeoutMs;
  // A short fixed interval: sshd is usually up within 50-150 ms of start, and
  // each probe is one local connection, so polling often costs little.
  while (Date.now() < deadline) {
    if (await bannerOnce(target, port, Math.min(2000, Math.max(50, deadline - Date.now())))) return true;
    await new Promise((r) => setTimeout(r, 15));
  }
  return false;
}
