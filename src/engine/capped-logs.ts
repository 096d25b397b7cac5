/**
 * The end of a container's log, read as a stream and held to a byte cap.
 * dockerode's non-following logs() buffers the whole answer, and `--tail
 * 10000` of long lines is tens of megabytes per call; here only the last
 * `maxBytes` are ever kept, whatever the engine sends.
 */
import type Docker from 'dockerode';
import { Frames } from './log-frames.js';

/** Most log text one `logs` call returns. */
export const LOGS_MAX_BYTES = 1024 * 1024;

/** The part of docker-modem used here (and in follow-logs.ts). */
export interface Dialer {
  dial(opts: object, cb: (err: unknown, stream?: NodeJS.ReadableStream) => void): void;
}

/** Keeps the last `max` bytes of what is added. */
class LastBytes {
  private readonly parts: Buffer[] = [];
  private size = 0;
  dropped = false;

  constructor(private readonly max: number) {}

  add(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
    while (this.parts.length > 1 && this.size - this.parts[0]!.length >= this.max) {
      this.size -= this.parts.shift()!.length;
      this.dropped = true;
    }
  }

  /** The kept bytes, starting on a whole line when something was cut. */
  text(): string {
    let all = Buffer.concat(this.parts);
    if (all.length > this.max) {
      all = all.subarray(all.length - this.max);
      this.dropped = true;
    }
    if (!this.dropped) return all.toString('utf8');
    const nl = all.indexOf(0x0a);
    return all.subarray(nl + 1).toString('utf8');
  }
}

/** The last `tail` lines of stdout and stderr, at most `maxBytes` of them (a note says when lines were left out). */
export function tailLogs(docker: Docker, id: string, tail: number, maxBytes = LOGS_MAX_BYTES, tty = false): Promise<string> {
  const modem = docker.modem as Dialer;
  return new Promise((resolve, reject) => {
    const opts = {
      path: `/containers/${encodeURIComponent(id)}/logs?`,
      method: 'GET',
      isStream: true,
      statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
      options: { stdout: true, stderr: true, tail, follow: false },
    };
    modem.dial(opts, (err, stream) => {
      if (err || !stream) return reject(err ?? new Error('no log stream'));
      const kept = new LastBytes(maxBytes);
      const frames = new Frames((p) => kept.add(Buffer.from(p)), tty);
      stream.on('data', (d: Buffer) => frames.push(d));
      stream.on('error', reject);
      stream.on('end', () => {
        const text = kept.text();
        resolve(kept.dropped ? `[dcm: earlier lines left out: logs shows at most the last ${maxBytes / 1024 / 1024} MiB]\n${text}` : text);
      });
    });
  });
}
