/**
 * dcm-server's SSH listener: ssh2 Server with the persistent host key,
 * refusing addresses that failed too often, and a clean stop that ends every
 * connection and waits (bounded) for them to close.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2, { type Connection } from 'ssh2';
import type { CommandCore } from '../shell/core.js';
import { AddressThrottle } from './throttle.js';
import { SessionSlots } from './session-slots.js';
import { handleConnection } from './connection.js';
import { ssh2Algorithms } from './algorithms.js';
import { clientAddress } from './address.js';
import { PendingLogins, type Admission } from './pending-logins.js';

/** Where and with what the server listens. */
export interface SshServerOptions {
  core: CommandCore;
  hostKeyPem: string;
  host: string;
  port: number;
  log(line: string): void;
}

export class DcmSshServer {
  private readonly server: ssh2.Server;
  /** Accepts TCP first: ssh2 only reports a client once it has sent its version line. */
  private readonly tcp: NetServer;
  /** Pre-login sockets by "ip:port", so a login can cancel their grace timer (the only login_grace timer). */
  private readonly pending = new Map<string, { socket: Socket; timer: NodeJS.Timeout; done: () => void }>();
  /** Caps on connections not logged in yet, per address and in total. */
  private readonly unauthenticated: PendingLogins;
  /** When a refusal for too many pre-login connections was last logged (one line per 10 s at most). */
  private lastCapLog = 0;
  private readonly clients = new Set<Connection>();
  /** Every open socket by "ip:port", so a connection can find its own. */
  private readonly sockets = new Map<string, Socket>();
  private readonly shutdown = new AbortController();
  readonly throttle: AddressThrottle;
  readonly slots: SessionSlots;

  constructor(private readonly o: SshServerOptions) {
    const cfg = o.core.deps.config.server;
    this.throttle = new AddressThrottle({ maxFailures: cfg.max_auth_failures, windowMs: cfg.ban_time * 1000, banMs: cfg.ban_time * 1000 });
    this.slots = new SessionSlots(cfg.max_sessions_per_user);
    this.unauthenticated = new PendingLogins({ total: cfg.max_startups, perAddress: cfg.max_startups_per_address });
    this.server = new ssh2.Server(
      { hostKeys: [o.hostKeyPem], ident: 'dcm', algorithms: ssh2Algorithms(cfg.algorithms) },
      (client, info) => {
        this.clients.add(client);
        client.on('close', () => this.clients.delete(client));
        const key = `${clientAddress(info.ip)}:${info.port}`;
        client.once('ready', () => this.loggedIn(key));
        handleConnection(client, info, {
          core: o.core,
          throttle: this.throttle,
          slots: this.slots,
          log: o.log,
          shutdown: this.shutdown.signal,
          socket: this.sockets.get(key),
        });
      },
    );
    this.server.on('error', (e: Error) => o.log(`server error: ${e.message}`));
    this.tcp = createServer((socket) => this.accept(socket));
    this.tcp.on('error', (e: Error) => o.log(`listener error: ${e.message}`));
  }

  /**
   * Refuses banned addresses and addresses (or a server) with too many
   * connections not logged in yet, before any handshake work, and closes
   * sockets that have not logged in within login_grace, whether or not they
   * ever spoke SSH.
   */
  private accept(socket: Socket): void {
    const ip = clientAddress(socket.remoteAddress);
    socket.on('error', () => undefined);
    if (this.shutdown.signal.aborted || this.throttle.banned(ip)) {
      socket.destroy();
      return;
    }
    const admission = this.unauthenticated.admit(ip);
    if (admission !== 'ok') {
      this.logCapRefusal(ip, admission);
      socket.destroy();
      return;
    }
    let counted = true;
    const done = () => {
      if (counted) this.unauthenticated.release(ip);
      counted = false;
    };
    const key = `${ip}:${socket.remotePort}`;
    const grace = this.o.core.deps.config.server.login_grace * 1000;
    const timer = setTimeout(() => {
      this.o.log(`${key}: no login within ${grace / 1000}s`);
      this.pending.delete(key);
      done();
      socket.destroy();
    }, grace);
    this.pending.set(key, { socket, timer, done });
    this.sockets.set(key, socket);
    socket.once('close', () => {
      done();
      if (this.sockets.get(key) === socket) this.sockets.delete(key);
      const p = this.pending.get(key);
      if (p?.socket === socket) {
        clearTimeout(p.timer);
        this.pending.delete(key);
      }
    });
    this.server.injectSocket(socket);
  }

  private logCapRefusal(ip: string, why: Exclude<Admission, 'ok'>): void {
    const now = Date.now();
    if (now - this.lastCapLog < 10_000) return;
    this.lastCapLog = now;
    const cfg = this.o.core.deps.config.server;
    this.o.log(
      why === 'address-full'
        ? `${ip}: refused: ${cfg.max_startups_per_address} connections from this address have not logged in yet (max_startups_per_address)`
        : `${ip}: refused: ${cfg.max_startups} connections have not logged in yet (max_startups)`,
    );
  }

  private loggedIn(key: string): void {
    const p = this.pending.get(key);
    if (p) {
      clearTimeout(p.timer);
      p.done();
    }
    this.pending.delete(key);
  }

  /** Resolves with the bound address once listening. */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(this.o.port, this.o.host, () => {
        this.tcp.off('error', reject);
        const a = this.tcp.address() as { address: string; port: number };
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting, ends every connection, waits up to `graceMs` for them to close. */
  async stop(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((r) => this.tcp.close(() => r()));
    this.shutdown.abort();
    for (const c of this.clients) c.end();
    for (const p of this.pending.values()) p.socket.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  get connections(): number {
    return this.clients.size;
  }
}
