/**
 * One of dcm-server's local command sockets: the one-shot doors, `dcm COMMAND`
 * and the forced-command `dcm-shell`, hand their command here instead of
 * loading the whole program for it. Commands count against the same per-user
 * session limit as SSH sessions.
 *
 * Who the caller is comes from which socket it could open, never from what it
 * says (Node cannot ask the kernel for a unix socket peer's uid):
 * - the root socket (0600 root, in a 0700 root directory): only root connects,
 *   so the facts the door sends (SUDO_USER set by sudo, --user) are root's
 *   word, and root may act for any user anyway; the doors' own identity rules
 *   (identity.ts, shell-identity.ts) then decide as they would in-process;
 * - the service socket (0600, owned by openssh.service_account): only that
 *   account connects, so the caller's account and uids are taken from the
 *   socket, and only its forced-command dcm-shell --user NAME is served.
 */
import { lchownSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { DcmError, exitCodeFor, userLine } from '../errors.js';
import type { CommandCore } from '../shell/core.js';
import { splitWords } from '../shell/words.js';
import type { SessionSlots } from '../ssh/session-slots.js';
import { MAX_REQUEST_BYTES, PROTOCOL_VERSION, type CommandReply, type CommandRequest, type DoorFacts } from '../local/command-protocol.js';
import { localIdentity } from './identity.js';
import { shellIdentity } from './shell-identity.js';

/** A request must arrive this fast; a command then runs as long as it needs. */
const REQUEST_TIMEOUT_MS = 5000;

/** What connecting to a socket proves about the caller. */
export type SocketTrust =
  | { kind: 'root' }
  | { kind: 'service'; account: string; uid: number; gid: number };

export interface CommandServerOptions {
  core: CommandCore;
  slots: SessionSlots;
  path: string;
  trust: SocketTrust;
  log(line: string): void;
}

/** Who a request is for, and whether the one who asked is an administrator (root acting with --user). */
interface Caller {
  user: string;
  prog: string;
  admin: boolean;
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
    const old = process.umask(0o177); // born 0600 root: no window in which others can connect
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.o.path, () => (this.server.off('error', reject), resolve()));
      });
    } finally {
      process.umask(old);
    }
    // The directory is root's alone (socket-dir.ts): nothing can have replaced the path since.
    if (this.o.trust.kind === 'service') lchownSync(this.o.path, this.o.trust.uid, this.o.trust.gid);
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
    let caller: Caller;
    let words: string[];
    try {
      caller = this.identify(req);
    } catch (e) {
      return reply(req.door === 'local' ? 'dcm' : 'dcm-shell', e);
    }
    try {
      words = req.door === 'local' ? strings(req.words) : splitWords(String(req.command));
    } catch (e) {
      return reply('dcm', e);
    }
    const { user } = caller;
    this.o.log(`command socket: ${user} via the ${this.o.trust.kind} socket (${caller.prog})`);
    const release = this.o.slots.take(user);
    if (!release) return reply('dcm', new DcmError('limit', this.o.slots.limitMessage(user)));
    try {
      const r = await this.o.core.run(user, words);
      // An administrator is told where a storage failure is; a user only what it means.
      return { code: r.code, stdout: r.stdout, stderr: caller.admin && r.adminLine ? `dcm: ${r.adminLine}\n` : r.stderr };
    } finally {
      release();
    }
  }

  /** The caller's user, by the rules of the door it came through and what its socket proves. */
  private identify(req: CommandRequest): Caller {
    const f = req.facts;
    const serviceAccount = () => this.o.core.deps.config.openssh.service_account;
    if (this.o.trust.kind === 'service') {
      if (req.door !== 'shell') throw new DcmError('denied', `this socket serves only the forced-command dcm-shell of the service account "${this.o.trust.account}"`);
      // The account and its ids are the socket owner's, whatever the request says.
      const t = this.o.trust;
      const facts: DoorFacts = { ...f, euid: t.uid, ruid: t.uid, account: t.account };
      return { user: shellIdentity({ ...facts, serviceAccount }), prog: 'dcm-shell', admin: false };
    }
    if (req.door === 'local') {
      const user = localIdentity({ euid: f.euid, ...(f.sudoUser ? { sudoUser: f.sudoUser } : {}), ...(f.userFlag !== undefined ? { userFlag: f.userFlag } : {}) });
      return { user, prog: 'dcm', admin: !f.sudoUser || f.sudoUser === 'root' };
    }
    return { user: shellIdentity({ ...f, serviceAccount }), prog: 'dcm-shell', admin: false };
  }
}

function strings(x: unknown): string[] {
  if (!Array.isArray(x) || !x.every((w) => typeof w === 'string')) throw new DcmError('usage', 'malformed request: words must be strings');
  return x;
}

const reply = (prog: string, e: unknown): CommandReply => ({ code: exitCodeFor(e), stdout: '', stderr: `${prog}: ${userLine(e)}\n` });
