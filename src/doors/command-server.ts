/**
 * One of dcm-server's local command sockets: the one-shot doors, `dcm COMMAND`
 * and the forced-command `dcm-shell`, hand their command here instead of
 * loading the whole program for it, and get its output as it comes
 * (command-protocol.ts). Commands count against the same per-user session
 * limit as SSH sessions, until they end or the door goes away.
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
import {
  ALIVE_MS,
  MAX_REQUEST_BYTES,
  PROTOCOL_VERSION,
  versionMismatch,
  type CommandRequest,
  type DoorFacts,
  type ReplyV1,
} from '../local/command-protocol.js';
import { SocketOutput } from './socket-output.js';
import { SocketInput } from './socket-input.js';
import { localIdentity } from './identity.js';
import { shellIdentity } from './shell-identity.js';

/** A request must arrive this fast; a command then runs as long as it needs, its output sent as it comes. */
const REQUEST_TIMEOUT_MS = 5000;

const MALFORMED = 'malformed request on the command socket (dcm and dcm-server of different versions?)';

/** What connecting to a socket proves about the caller. */
export type SocketTrust = { kind: 'root' } | { kind: 'service'; account: string; uid: number; gid: number };

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
    // Half-open: a door of version 1 ends its side after the request and still reads the answer.
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
    sock.on('error', () => undefined); // a door that went away mid-answer: its writes just stop
    let buf = '';
    let handled = false;
    const timer = setTimeout(() => sock.destroy(), REQUEST_TIMEOUT_MS);
    sock.setEncoding('utf8');
    // The door keeps its side open while it waits for the answer: its end (or the socket's close) means it left.
    const left = new AbortController();
    const leave = () => left.abort();
    sock.once('close', leave);
    // After the request line a door sends only input frames, and only once a command asked for them.
    let input: SocketInput | null = null;
    let rest = '';
    let chain = Promise.resolve();
    const take = (lineEnded: boolean) => {
      if (handled) return;
      handled = true;
      clearTimeout(timer);
      if (lineEnded) sock.once('end', leave);
      void this.serve(sock, buf, left.signal, (i) => (input = i)).catch((e: unknown) => {
        this.o.log(`command socket: ${(e as Error).stack ?? String(e)}`);
        refuse(sock, 'dcm', e);
      });
    };
    const inputFrames = (d: string) => {
      rest += d;
      if (rest.length > MAX_REQUEST_BYTES) return void sock.destroy(); // no input frame is that long
      const lines = rest.split('\n');
      rest = lines.pop()!;
      if (!lines.length) return;
      // Frames are taken in order, and no more is read until the container took them.
      sock.pause();
      chain = chain
        .then(async () => {
          for (const l of lines) if (l) await input?.feed(l);
        })
        .then(() => void sock.resume());
    };
    sock.on('data', (d: string) => {
      if (handled) return inputFrames(d);
      buf += d;
      if (buf.length > MAX_REQUEST_BYTES) {
        handled = true;
        clearTimeout(timer);
        refuse(sock, 'dcm', new DcmError('usage', 'request too large'));
      } else if (buf.includes('\n')) {
        const at = buf.indexOf('\n');
        const after = buf.slice(at + 1);
        buf = buf.slice(0, at);
        take(true);
        if (after) inputFrames(after);
      }
    });
    // The door going away ends its input too.
    sock.once('close', () => void chain.then(() => input?.end()));
    sock.on('end', () => take(false));
  }

  /** Answers one request on its socket: refusals as one line, a command's output as it comes. */
  private async serve(sock: Socket, text: string, left: AbortSignal, withInput: (i: SocketInput) => void): Promise<void> {
    let req: CommandRequest;
    try {
      req = JSON.parse(text) as CommandRequest;
    } catch {
      return refuse(sock, 'dcm', new DcmError('usage', MALFORMED));
    }
    if (req?.v !== PROTOCOL_VERSION) {
      const e = new DcmError('usage', versionMismatch(req?.v));
      // A door of version 1 reads one JSON answer, not frames: tell it in its own words.
      if (req?.v === 1)
        return void sock.end(JSON.stringify({ code: exitCodeFor(e), stdout: '', stderr: `dcm: ${userLine(e)}\n` } satisfies ReplyV1));
      return refuse(sock, 'dcm', e);
    }
    if ((req.door !== 'local' && req.door !== 'shell') || typeof req.facts !== 'object' || req.facts === null) {
      return refuse(sock, 'dcm', new DcmError('usage', MALFORMED));
    }
    let caller: Caller;
    let words: string[];
    try {
      caller = this.identify(req);
    } catch (e) {
      return refuse(sock, req.door === 'local' ? 'dcm' : 'dcm-shell', e);
    }
    try {
      words = req.door === 'local' ? strings(req.words) : splitWords(String(req.command));
    } catch (e) {
      return refuse(sock, 'dcm', e);
    }
    const { user } = caller;
    this.o.log(`command socket: ${user} via the ${this.o.trust.kind} socket (${caller.prog})`);
    const release = this.o.slots.take(user);
    if (!release) return refuse(sock, 'dcm', new DcmError('limit', this.o.slots.limitMessage(user)));
    const out = new SocketOutput(sock, caller.admin);
    const input = new SocketInput(req.tty, out);
    withInput(input);
    const alive = setInterval(() => out.alive(), ALIVE_MS);
    try {
      out.end(await this.o.core.stream(user, words, out, left, input));
    } finally {
      clearInterval(alive);
      release();
    }
  }

  /** The caller's user, by the rules of the door it came through and what its socket proves. */
  private identify(req: CommandRequest): Caller {
    const f = req.facts;
    const serviceAccount = () => this.o.core.deps.config.openssh.service_account;
    if (this.o.trust.kind === 'service') {
      if (req.door !== 'shell')
        throw new DcmError(
          'denied',
          `this socket serves only the forced-command dcm-shell of the service account "${this.o.trust.account}"`,
        );
      // The account and its ids are the socket owner's, whatever the request says.
      const t = this.o.trust;
      const facts: DoorFacts = { ...f, euid: t.uid, ruid: t.uid, account: t.account };
      return { user: shellIdentity({ ...facts, serviceAccount }), prog: 'dcm-shell', admin: false };
    }
    if (req.door === 'local') {
      const user = localIdentity({
        euid: f.euid,
        ...(f.sudoUser ? { sudoUser: f.sudoUser } : {}),
        ...(f.userFlag !== undefined ? { userFlag: f.userFlag } : {}),
      });
      return { user, prog: 'dcm', admin: !f.sudoUser || f.sudoUser === 'root' };
    }
    return { user: shellIdentity({ ...f, serviceAccount }), prog: 'dcm-shell', admin: false };
  }
}

function strings(x: unknown): string[] {
  if (!Array.isArray(x) || !x.every((w) => typeof w === 'string')) throw new DcmError('usage', 'malformed request: words must be strings');
  return x;
}

/** A request answered with one error line and its exit code. */
function refuse(sock: Socket, prog: string, e: unknown): void {
  const out = new SocketOutput(sock, false);
  out.line(`${prog}: ${userLine(e)}`, 'error');
  out.end(exitCodeFor(e));
}
