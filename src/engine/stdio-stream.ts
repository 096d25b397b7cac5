/**
 * A container's (or an exec's) stdio over the connection the engine hands
 * over after an attach or exec start (an HTTP upgrade to a raw stream). With
 * a terminal the output is the terminal's bytes as they are; without one it
 * is Docker's multiplexed frames (log-frames.ts), split into stdout and
 * stderr. Output is read no faster than the caller takes it; input is
 * written with the socket's back-pressure; ending input half-closes the
 * connection, which the engine passes on to the process as EOF.
 */
import type { Duplex } from 'node:stream';
import type { StdioStream } from './engine.js';
import { Frames } from './log-frames.js';

export function stdioStream(sock: Duplex, tty: boolean): StdioStream {
  let closed = false;
  // A job may end (and the engine close the stream) before anyone pumps it: that is remembered.
  let over = false;
  const isOver = () => {
    over = true;
  };
  sock.once('end', isOver);
  sock.once('close', isOver);
  sock.once('error', isOver);
  return {
    write(data) {
      if (closed || sock.destroyed || sock.writableEnded) return Promise.resolve();
      if (sock.write(data)) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          sock.off('drain', done);
          sock.off('close', done);
          resolve();
        };
        sock.once('drain', done);
        sock.once('close', done);
      });
    },
    endInput() {
      if (!closed && !sock.destroyed && !sock.writableEnded) sock.end();
    },
    pump(onOut) {
      if (over || sock.destroyed || sock.readableEnded) return Promise.resolve();
      return new Promise((resolve) => {
        let settled = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          resolve();
        };
        let chain = Promise.resolve();
        const queue: { data: Buffer; to: 'stdout' | 'stderr' }[] = [];
        const frames = new Frames((data, to) => queue.push({ data: Buffer.from(data), to }));
        sock.on('data', (d: Buffer) => {
          if (tty) queue.push({ data: d, to: 'stdout' });
          else frames.push(d);
          if (!queue.length) return;
          const batch = queue.splice(0);
          sock.pause();
          chain = chain
            .then(async () => {
              for (const p of batch) await onOut(p.data, p.to);
            })
            .then(
              () => void (closed || sock.resume()),
              () => void sock.destroy(), // the reader failed: nothing more is read
            );
        });
        const end = () => void chain.then(finish);
        sock.once('end', end);
        sock.once('close', end);
        sock.once('error', end);
        sock.resume();
      });
    },
    close() {
      closed = true;
      sock.destroy();
    },
  };
}
