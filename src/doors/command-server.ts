/**
 * dcm-server's local command socket (<state dir>/dcm-server.sock): the one-shot
 * doors, `dcm COMMAND` and the forced-command `dcm-shell`, hand their command
 * here instead of loading the whole program for it. The caller's identity is
 * decided here from the facts the door sends, by the same rules the door would
 * apply itself (identity.ts, shell-identity.ts), and counts against the same
 * per-user session limit as SSH sessions.
 *
 * The socket is mode 0660, owned by root and the state directory's group, in
 * the state directory: whoever can connect could open the database anyway.
 */
import { chmodSync, chownSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { DcmError, exitCodeFor, userLine } from '../errors.js';
import type { CommandCore } from '../shell/core.js';
import { splitWords } from '../shell/words.js';
import type { SessionSlots } from '../ssh/session-slots.js';
import { MAX_REQUEST_BYTES, PROTOCOL_VERSION, type CommandReply, type CommandRequest } from '../local/command-protocol.js';
import { localIdentity } from './identity.js';
import { shellIdentity } from './shell-identity.js';

/** A request must arrive this fast; a command then runs as long as it needs. */
const REQUEST_TIMEOUT_MS = 5000;

export interface CommandServerOptions {
  core: CommandCore;
  slots: SessionSlots;
  path: string;
  log(line: string): void;
}

export class CommandServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly o: CommandServerOptions) {
    // Half-open: the door ends its side after the request and still reads the answer.
    this.server = createServer({ allowHalfOpen: true }, (s) => this.accept(s));
    this.server.on('error', (e) => o.log(`command socket error: ${e.message}`));
  }

  /** Listens, replacing a socket file a crashed server left; false when another server owns it. */
  async listen(): Promise<boolean> {
    if (await this.someoneListens()) {
      this.o.log(`command socket ${this.o.path}: another dcm-server answers there; not taking it`);
      return false;
    }
    try {
      unlinkSync(this.o.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const old = process.umask(0o177); // born 0600: no window in which others can connect
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.o.path, () => (this.server.off('error', reject), resolve()));
      });
    } finally {
      process.umask(old);
    }
    const dirGid = statSync(dirname(this.o.path)).gid;
    chownSync(this.o.path, 0, dirGid);
    chmodSync(this.o.path, 0o660);
    return true;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private someoneListens(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect(this.o.path);
      s.on('connect', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    let handled = false;
    const timer = setTimeout(() => sock.destroy(), REQUEST_TIMEOUT_MS);
    sock.setEncoding('utf8');
    const take = () => {
      if (handled) return;
      handled = true;
      clearTimeout(timer);
      void this.answer(buf)
        .catch((e: unknown) => (this.o.log(`command socket: ${(e as Error).stack ?? String(e)}`), reply('dcm', e)))
        .then((r) => sock.end(JSON.stringify(r)));
    };
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_REQUEST_BYTES) {
        handled = true;
        clearTimeout(timer);
        sock.end(JSON.stringify(reply('dcm', new DcmError('usage', 'request too large'))));
      } else if (buf.includes('\n')) {
        buf = buf.slice(0, buf.indexOf('\n'));
        take();
      }
    });
    sock.on('end', take);
  }

  private async answer(text: string): Promise<CommandReply> {
    let req: CommandRequest;
    try {
      req = JSON.parse(text) as CommandRequest;
      if (req.v !== PROTOCOL_VERSION || (req.door !== 'local' && req.door !== 'shell') || typeof req.facts !== 'object' || req.facts === null) throw new Error('shape');
    } catch {
      return reply('dcm', new DcmError('usage', 'malformed request on the command socket (dcm and dcm-server of different versions?)'));
    }
    const f = req.facts;
    const prog = req.door === 'local' ? 'dcm' : 'dcm-shell';
    let user: string;
    let words: string[];
    try {
      user = req.door === 'local'
        ? localIdentity({ euid: f.euid, ...(f.sudoUser ? { sudoUser: f.sudoUser } : {}), ...(f.userFlag !== undefined ? { userFlag: f.userFlag } : {}) })
        : shellIdentity({ ...f, serviceAccount: () => this.o.core.deps.config.openssh.service_account });
    } catch (e) {
      return reply(prog, e);
    }
    try {
      words = req.door === 'local' ? strings(req.words) : splitWords(String(req.command));
    } catch (e) {
      return reply('dcm', e);
    }
    const release = this.o.slots.take(user);
    if (!release) return reply('dcm', new DcmError('limit', this.o.slots.limitMessage(user)));
    try {
      return await this.o.core.run(user, words);
    } finally {
      release();
    }
  }
}

function strings(x: unknown): string[] {
  if (!Array.isArray(x) || !x.every((w) => typeof w === 'string')) throw new DcmError('usage', 'malformed request: words must be strings');
  return x;
}

const reply = (prog: string, e: unknown): CommandReply => ({ code: exitCodeFor(e), stdout: '', stderr: `${prog}: ${userLine(e)}\n` });
