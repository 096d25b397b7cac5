/**
 * One client connection: public-key authentication,
 * refusal of every forwarding request, idle timeout, and session channels
 * handed to handleSession once the user is known.
 */
import type { Socket } from 'node:net';
import type { Connection, ClientInfo } from 'ssh2';
import type { CommandCore } from '../shell/core.js';
import { checkKey } from './auth.js';
import type { AddressThrottle } from './throttle.js';
import type { SessionSlots } from './session-slots.js';
import { handleSession, type SessionHandle } from './session.js';
import { isOversizedPacket, lingerBeforeEnd } from './oversized-request.js';
import { clientAddress } from './address.js';

/** Shared by every connection of one server. */
export interface ConnectionDeps {
  core: CommandCore;
  throttle: AddressThrottle;
  slots: SessionSlots;
  log(line: string): void;
  /** Aborted on server shutdown. */
  shutdown: AbortSignal;
  /** The connection's TCP socket, when known. */
  socket?: Socket;
}

/** Authentication attempts (beyond the initial "none") one connection may make. */
const MAX_AUTH_TRIES = 6;

export function handleConnection(client: Connection, info: ClientInfo, d: ConnectionDeps): void {
  const cfg = d.core.deps.config.server;
  const ip = clientAddress(info.ip);
  const conn = new AbortController();
  let user: string | null = null;
  let tries = 0;
  let failed = false;
  let busy = 0;
  let idleTimer: NodeJS.Timeout | null = null;
  const log = (l: string) => d.log(`${ip}${user ? ` ${user}` : ''}: ${l}`);

  const end = () => {
    if (!conn.signal.aborted) conn.abort();
    client.end();
  };
  const onShutdown = () => end();
  d.shutdown.addEventListener('abort', onShutdown, { once: true });

  // login_grace is the server's one timer (server.ts): it closes the socket of a connection not logged in by then.

  // Idle: armed only while no command runs; any input re-arms it.
  const touch = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = null;
    if (busy > 0 || cfg.idle_timeout === 0 || conn.signal.aborted) return;
    idleTimer = setTimeout(() => {
      log(`idle for ${cfg.idle_timeout}s: closing`);
      end();
    }, cfg.idle_timeout * 1000);
  };

  const sessions = new Set<SessionHandle>();
  client.on('error', (e) => {
    // A packet too long to read was most likely a session's command: answer it clearly.
    if (isOversizedPacket(e) && [...sessions].filter((h) => h.answerOversized()).length > 0) {
      if (d.socket) lingerBeforeEnd(d.socket, 2000);
      return;
    }
    log(`connection error: ${e.message}`);
  });
  client.on('close', () => {
    if (idleTimer) clearTimeout(idleTimer);
    d.shutdown.removeEventListener('abort', onShutdown);
    if (!conn.signal.aborted) conn.abort();
    if (!user && failed) d.throttle.fail(ip) && log('too many failed logins: address refused for a while');
  });

  client.on('authentication', (ctx) => {
    if (ctx.method === 'none') return ctx.reject(['publickey']);
    failed = true;
    if (++tries > MAX_AUTH_TRIES) {
      log('too many authentication attempts');
      return end();
    }
    if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
    let verdict: ReturnType<typeof checkKey>;
    try {
      verdict = checkKey(d.core.deps.store, {
        username: ctx.username,
        blob: ctx.key.data,
        signature: ctx.signature,
        signedData: ctx.blob,
        hashAlgo: ctx.hashAlgo,
      });
    } catch (e) {
      // A locked or broken database must cost one login, not the server.
      log(`key check failed: ${(e as Error).message}`);
      return ctx.reject(['publickey']);
    }
    if (verdict === 'rejected') return ctx.reject(['publickey']);
    if (verdict === 'acceptable') {
      tries--; // asking whether a key would do is not a failed attempt
      return ctx.accept();
    }
    user = ctx.username;
    ctx.accept();
  });

  client.on('ready', () => {
    failed = false;
    d.throttle.succeed(ip);
    log('logged in');
    touch();
    const u = user!;
    client.on('session', (accept) => {
      touch();
      const session = accept();
      const handle = handleSession(
        session,
        {
          core: d.core,
          user: u,
          slots: d.slots,
          signal: conn.signal,
          touch,
          busy: (delta) => {
            busy += delta;
            touch();
          },
          log,
          serverNoColor: process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '',
        },
        client,
      );
      sessions.add(handle);
      session.once('close', () => sessions.delete(handle));
    });
  });

  // -L and -D arrive as direct-tcpip channels, -R as a tcpip-forward request.
  client.on('tcpip', (_a, reject) => {
    log('refused port forwarding (-L/-D)');
    reject();
  });
  client.on('openssh.streamlocal', (_a, reject) => {
    log('refused unix socket forwarding');
    reject();
  });
  client.on('request', (_a, reject, name) => {
    log(`refused global request ${name}`);
    reject?.();
  });
}
