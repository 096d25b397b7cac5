/**
 * A unix-socket proxy in front of the real Docker engine that holds back every
 * "create container" request (or, with `hold`, every request whose first line
 * matches) for a while: a busy engine, made on purpose, so that a test can act
 * while a create is in flight (its row reserved, no Docker id yet). Everything
 * else passes straight through, and is counted.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';

export interface SlowEngine {
  socket: string;
  /** Bytes the engine has sent to dcm so far, over all connections (what dcm has read of them, give or take socket buffers). */
  fromEngine(): number;
  /** Requests held back so far. */
  held(): number;
  close(): Promise<void>;
}

const CREATE_RE = /^POST \S*\/containers\/create[?\s]/;

export async function slowEngine(
  socket: string,
  delayMs: number,
  upstream = '/var/run/docker.sock',
  hold: RegExp = CREATE_RE,
): Promise<SlowEngine> {
  rmSync(socket, { force: true });
  const open = new Set<Socket>();
  let fromEngine = 0;
  let held = 0;
  const server: Server = createServer((client) => {
    const engine = createConnection(upstream);
    open.add(client).add(engine);
    // Chunks go out in order; a create request (and whatever follows it) waits.
    let chain = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      const holdThis = hold.test(chunk.subarray(0, 200).toString('latin1'));
      if (holdThis) held++;
      chain = chain
        .then(() => (holdThis ? new Promise((r) => setTimeout(r, delayMs)) : undefined))
        .then(() => {
          if (!engine.destroyed) engine.write(chunk);
        });
    });
    engine.on('data', (d: Buffer) => (fromEngine += d.length));
    engine.pipe(client); // paced by dcm: pipe stops reading the engine while dcm does not read
    const end = () => {
      client.destroy();
      engine.destroy();
      open.delete(client);
      open.delete(engine);
    };
    client.on('close', end).on('error', end);
    engine.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return {
    socket,
    fromEngine: () => fromEngine,
    held: () => held,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}
