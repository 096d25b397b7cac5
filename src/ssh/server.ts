/**
 * dcm-server's SSH listener: ssh2 Server with the persistent host key,
 * refusing addresses that failed too often, and a clean stop that ends every
 * connection and waits (bounded) for them to close.
 */
import ssh2, { type Connection } from 'ssh2';
import type { CommandCore } from '../shell/core.js';
import { AddressThrottle } from './throttle.js';
import { SessionSlots } from './session-slots.js';
import { handleConnection } from './connection.js';

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
  private readonly clients = new Set<Connection>();
  private readonly shutdown = new AbortController();
  readonly throttle: AddressThrottle;
  readonly slots: SessionSlots;

  constructor(private readonly o: SshServerOptions) {
    const cfg = o.core.deps.config.server;
    this.throttle = new AddressThrottle({ maxFailures: cfg.max_auth_failures, windowMs: cfg.ban_time * 1000, banMs: cfg.ban_time * 1000 });
    this.slots = new SessionSlots(cfg.max_sessions_per_user);
    this.server = new ssh2.Server({ hostKeys: [o.hostKeyPem], ident: 'dcm' }, (client, info) => {
      if (this.throttle.banned(info.ip)) {
        // Refused before any handshake work is spent on it.
        client.on('error', () => undefined);
        client.end();
        return;
      }
      this.clients.add(client);
      client.on('close', () => this.clients.delete(client));
      handleConnection(client, info, { core: o.core, throttle: this.throttle, slots: this.slots, log: o.log, shutdown: this.shutdown.signal });
    });
    this.server.on('error', (e: Error) => o.log(`server error: ${e.message}`));
  }

  /** Resolves with the bound address once listening. */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as { address: string; port: number };
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting, ends every connection, waits up to `graceMs` for them to close. */
  async stop(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.shutdown.abort();
    for (const c of this.clients) c.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  get connections(): number {
    return this.clients.size;
  }
}
