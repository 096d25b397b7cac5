/**
 * `logs -f`: a container's log as it grows, until the container stops (the
 * engine ends the stream) or the reader goes away (`signal`). Each piece of
 * text is handed on and awaited before more is read: a reader that is slow
 * holds the engine's stream back (the socket stops being read) instead of
 * filling memory here. On abort the request is torn down, so the engine stops
 * following too.
 */
import type Docker from 'dockerode';
import { StringDecoder } from 'node:string_decoder';
import type { Dialer } from './capped-logs.js';
import { Frames } from './log-frames.js';

type LogStream = NodeJS.ReadableStream & { destroy(): void };

export function followLogs(
  docker: Docker,
  id: string,
  tail: number,
  signal: AbortSignal,
  onText: (text: string) => Promise<void>,
  tty = false,
): Promise<void> {
  const modem = docker.modem as Dialer;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve();
    const opts = {
      path: `/containers/${encodeURIComponent(id)}/logs?`,
      method: 'GET',
      isStream: true,
      abortSignal: signal,
      statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
      options: { stdout: true, stderr: true, tail, follow: true },
    };
    modem.dial(opts, (err, raw) => {
      if (signal.aborted) {
        (raw as LogStream | undefined)?.destroy();
        return resolve();
      }
      if (err || !raw) return reject(err ?? new Error('no log stream'));
      const stream = raw as LogStream;
      let settled = false;
      const settle = (e?: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        stream.destroy();
        if (e && !signal.aborted) reject(e);
        else resolve();
      };
      const onAbort = () => settle();
      signal.addEventListener('abort', onAbort, { once: true });
      // A character split between two frames is joined before it is handed on.
      const utf8 = new StringDecoder('utf8');
      let text = '';
      const frames = new Frames((p) => (text += utf8.write(p)), tty);
      stream.on('data', (d: Buffer) => {
        frames.push(d);
        if (!text) return;
        const piece = text;
        text = '';
        stream.pause();
        onText(piece).then(
          () => settled || stream.resume(),
          (e: unknown) => settle(e),
        );
      });
      let ended = false;
      stream.on('end', () => {
        ended = true;
        const rest = utf8.end();
        if (!rest) return settle();
        onText(rest).then(() => settle(), settle);
      });
      stream.on('error', (e: unknown) => settle(e));
      // Closed without its end: the engine (or the connection to it) went away mid-stream.
      stream.on('close', () => ended || settle(new Error('the log stream ended early')));
    });
  });
}
