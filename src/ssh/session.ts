/**
 * One SSH session channel of an authenticated user: a pty request makes the
 * shell interactive; `exec` runs exactly one command through CommandCore;
 * agent and X11 forwarding, subsystems (sftp), env and signals are refused.
 */
import type { Connection, PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import type { CommandCore } from '../shell/core.js';
import { colourLevel } from '../shell/colour.js';
import { runRepl } from '../shell/repl.js';
import { splitWords } from '../shell/words.js';
import { DcmError, EXIT, exitCodeFor, userLine } from '../errors.js';
import { channelTty, crlfWriter } from './tty-face.js';
import { channelInput, type ChannelInput } from './channel-input.js';
import type { SessionSlots } from './session-slots.js';
import { answerUnreadRequest } from './oversized-request.js';
import { writableOutput } from '../shell/writable-output.js';

const CTRL_C = 0x03;

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
const commandTooLong = () => new DcmError('usage', `command too long (at most ${MAX_COMMAND} characters)`);

/** What the connection may still do with a session. */
export interface SessionHandle {
  /**
   * Answers "command too long" to a request the connection could not read
   * (longer than an SSH packet may be), if this session has not started a
   * command or shell yet; true when it did.
   */
  answerOversized(): boolean;
}

export function handleSession(session: Session, s: SessionContext, client: Connection): SessionHandle {
  let pty: PseudoTtyInfo | null = null;
  let clientNoColor = false;
  let resize: ((cols: number, rows: number) => void) | null = null;
  let started = false;

  const refuse = (what: string) => (_a: unknown, reject?: () => void) => {
    s.log(`${s.user}: refused ${what}`);
    reject?.();
  };
  let closed = false;
  session.once('close', () => (closed = true));
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
      ch.stderr.write(`dcm: ${s.slots.limitMessage(s.user)}${pty ? '\r\n' : '\n'}`);
      ch.exit(EXIT.limit);
      ch.end();
      s.log(`${s.user}: ${kind} refused: session limit`);
      return null;
    }
    // The slot is held until the command or shell ends, not until the channel
    // closes: a client that hangs up does not stop a command already running.
    return { ch, release };
  };

  session.on('exec', (accept, reject, info) => {
    if (started) return reject?.();
    const b = begin(accept, 'exec');
    if (!b) return;
    const input = channelInput(b.ch, pty ? { cols: pty.cols || 80, rows: pty.rows || 24 } : null);
    resize = (cols, rows) => input.resized({ cols, rows });
    void runExec(b.ch, info.command, input, s).finally(b.release);
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
    // The shell ends with its channel as well as with the connection, so a
    // wizard waiting for an answer cannot outlive the client (and hold its slot).
    const ended = new AbortController();
    const onAbort = () => {
      ended.abort();
      ch.end();
    };
    s.signal.addEventListener('abort', onAbort, { once: true });
    ch.once('close', () => ended.abort());
    runRepl({ core: s.core, user: s.user, io, colour: level, signal: ended.signal, onBusy: (b) => s.busy(b ? 1 : -1) })
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
        b.release();
        ch.end();
      });
  });

  return {
    answerOversized() {
      if (started || closed) return false;
      started = true;
      const e = commandTooLong();
      s.log(`${s.user}: request longer than an SSH packet may be: answered "${e.userMessage}"`);
      return answerUnreadRequest(client, session, `dcm: ${userLine(e)}${pty ? '\r\n' : '\n'}`, exitCodeFor(e));
    },
  };
}

/**
 * One command, its output on stdout/stderr as it comes, its status as the
 * exit status. The command is told when the client goes away (the channel or
 * the connection closes) or presses Ctrl-C on its pty, so `logs -f` ends then.
 */
async function runExec(ch: ServerChannel, command: string, input: ChannelInput, s: SessionContext): Promise<void> {
  const hasPty = input.terminal !== null;
  s.busy(1);
  const out = hasPty ? crlfWriter(ch) : ch;
  const err = hasPty ? crlfWriter(ch.stderr) : ch.stderr;
  const gone = new AbortController(); // nobody reads the output any more
  const stop = new AbortController(); // that, or Ctrl-C: a command that runs until stopped ends
  const leave = () => (gone.abort(), stop.abort());
  s.signal.addEventListener('abort', leave, { once: true });
  ch.once('close', leave);
  // With a pty the client's terminal is raw: Ctrl-C arrives as a byte, not as a signal
  // (and while an attached job reads the input, it is the job's key).
  if (hasPty) ch.on('data', (d: Buffer) => d.includes(CTRL_C) && !input.reading && stop.abort());
  try {
    if (command.length > MAX_COMMAND) throw commandTooLong();
    const words = splitWords(command);
    ch.exit(await s.core.stream(s.user, words, writableOutput(out, err, { gone: gone.signal }), stop.signal, input));
  } catch (e) {
    err.write(`dcm: ${userLine(e)}\n`);
    ch.exit(exitCodeFor(e));
  } finally {
    s.signal.removeEventListener('abort', leave);
    s.busy(-1);
    // Let the converted output reach the channel before it closes.
    if (hasPty) out.end(() => ch.end());
    else ch.end();
  }
}
