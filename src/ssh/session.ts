/**
 * One SSH session channel of an authenticated user: a pty request makes the
 * shell interactive; `exec` runs exactly one command through CommandCore;
 * agent and X11 forwarding, subsystems (sftp), env and signals are refused.
 */
import type { PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import type { CommandCore } from '../shell/core.js';
import { colourLevel } from '../shell/colour.js';
import { runRepl } from '../shell/repl.js';
import { splitWords } from '../shell/words.js';
import { DcmError, exitCodeFor, userLine } from '../errors.js';
import { channelTty, crlfWriter } from './tty-face.js';
import type { SessionSlots } from './session-slots.js';

/** What a session needs from its connection. */
export interface SessionContext {
  core: CommandCore;
  user: string;
  slots: SessionSlots;
  /** Aborted when the connection goes away (idle timeout, disconnect, shutdown). */
  signal: AbortSignal;
  /** Marks activity and whether a command is running, for the idle timer. */
  touch(): void;
  busy(delta: 1 | -1): void;
  log(line: string): void;
  /** NO_COLOR from the server's own environment. */
  serverNoColor: boolean;
}

/** Longest exec command line accepted. */
const MAX_COMMAND = 8192;

export function handleSession(session: Session, s: SessionContext): void {
  let pty: PseudoTtyInfo | null = null;
  let clientNoColor = false;
  let resize: ((cols: number, rows: number) => void) | null = null;
  let started = false;

  const refuse = (what: string) => (_a: unknown, reject?: () => void) => {
    s.log(`${s.user}: refused ${what}`);
    reject?.();
  };
  session.on('pty', (accept, reject, info) => {
    if (started) return reject?.();
    pty = info;
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    resize?.(info.cols, info.rows);
    accept?.();
  });
  // Env requests are refused; NO_COLOR is only noted as a wish for plain text,
  // which can never widen what the session may do.
  session.on('env', (_accept, reject, info) => {
    if (info.key === 'NO_COLOR') clientNoColor = true;
    refuse(`env ${String(info.key).slice(0, 40)}`)(null, reject);
  });
  session.on('x11', refuse('X11 forwarding'));
  session.on('auth-agent', refuse('agent forwarding'));
  session.on('signal', refuse('signal'));
  session.on('sftp', refuse('sftp subsystem'));
  session.on('subsystem', (_a, reject, info) => refuse(`subsystem ${info.name}`)(null, reject));

  const begin = (accept: () => ServerChannel, kind: string): { ch: ServerChannel; release: () => void } | null => {
    if (started) return null;
    started = true;
    const ch = accept();
    ch.on('error', (e: Error) => s.log(`${s.user}: channel error: ${e.message}`));
    ch.on('data', () => s.touch());
    const release = s.slots.take(s.user);
    if (!release) {
      ch.stderr.write(`dcm: ${s.slots.limitMessage(s.user)}\r\n`);
      ch.exit(exitCodeFor(new DcmError('limit', '')));
      ch.end();
      s.log(`${s.user}: ${kind} refused: session limit`);
      return null;
    }
    ch.once('close', release);
    return { ch, release };
  };

  session.on('exec', (accept, reject, info) => {
    if (started) return reject?.();
    const b = begin(accept, 'exec');
    if (!b) return;
    void runExec(b.ch, info.command, pty !== null, s);
  });

  session.on('shell', (accept, reject) => {
    if (started) return reject?.();
    const b = begin(accept, 'shell');
    if (!b) return;
    const { ch } = b;
    const level = colourLevel(pty?.term, s.serverNoColor || clientNoColor, pty !== null);
    const depth = [1, 4, 8, 24][level]!;
    const io = pty
      ? (() => {
          const tty = channelTty(ch, { cols: pty.cols, rows: pty.rows }, depth);
          resize = (cols, rows) => tty.resize({ cols, rows });
          return { input: tty.input, output: tty.output, terminal: true };
        })()
      : { input: ch, output: ch, terminal: false };
    const onAbort = () => ch.end();
    s.signal.addEventListener('abort', onAbort, { once: true });
    runRepl({ core: s.core, user: s.user, io, colour: level, signal: s.signal, onBusy: (b) => s.busy(b ? 1 : -1) })
      .then((code) => {
        if (pty) io.output.write('logout\n');
        ch.exit(code);
      })
      .catch((e) => {
        s.log(`${s.user}: shell failed: ${(e as Error).stack}`);
        ch.exit(1);
      })
      .finally(() => {
        s.signal.removeEventListener('abort', onAbort);
        ch.end();
      });
  });
}

/** One command, its output on stdout/stderr, its status as the exit status. */
async function runExec(ch: ServerChannel, command: string, hasPty: boolean, s: SessionContext): Promise<void> {
  s.busy(1);
  const out = hasPty ? crlfWriter(ch) : ch;
  const err = hasPty ? crlfWriter(ch.stderr) : ch.stderr;
  try {
    if (command.length > MAX_COMMAND) throw new DcmError('usage', `command too long (at most ${MAX_COMMAND} characters)`);
    const words = splitWords(command);
    const r = await s.core.run(s.user, words);
    if (r.stdout) out.write(r.stdout);
    if (r.stderr) err.write(r.stderr);
    ch.exit(r.code);
  } catch (e) {
    err.write(`dcm: ${userLine(e)}\n`);
    ch.exit(exitCodeFor(e));
  } finally {
    s.busy(-1);
    // Let the converted output reach the channel before it closes.
    if (hasPty) out.end(() => ch.end());
    else ch.end();
  }
}
