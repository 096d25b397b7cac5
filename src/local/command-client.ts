/**
 * The door side of the local command socket. Loads nothing but node:net, so a
 * one-shot `dcm show` or forced-command `dcm-shell` costs a Node start and a
 * round trip instead of loading the program, the config schema and the engine
 * client. The answer's frames (command-protocol.ts) are handed on as they
 * come; the socket is read no faster than `output` takes them.
 */
import { connect } from 'node:net';
import { MAX_IN_FRAME_BYTES, MAX_OUT_FRAME_CHARS, PROTOCOL_VERSION, type CommandRequest, type DoorFacts } from './command-protocol.js';
import type { CommandOutput } from '../shell/command-output.js';
import type { CommandInput } from '../shell/command-input.js';
import type { NoServer } from './socket-choice.js';

export type Forwardable = { door: 'local'; words: string[] } | { door: 'shell'; command: string };

export interface AskOptions {
  /** Aborting tells the server the door is leaving (Ctrl-C): a command that runs until stopped ends, and its exit code still comes. */
  signal?: AbortSignal;
  /** Longest wait for any frame (the server sends one at least every ALIVE_MS while a command runs). */
  idleMs?: number;
  /** The door's terminal and input, for a command that asks for them (run, attach, exec). */
  input?: CommandInput;
}

/** Longest frame line read: an {"out":…} frame of MAX_OUT_FRAME_CHARS, every character escaped. */
const MAX_FRAME = MAX_OUT_FRAME_CHARS * 6 + 1024;

/**
 * Sends the command to dcm-server and hands its output to `output`. Resolves
 * null only when no server listens (no socket, or nobody behind it): the
 * caller then runs the command itself. Once the request may have been read,
 * it never resolves null, so a command never runs twice.
 */
export async function forwardCommand(
  socketPath: string,
  facts: DoorFacts,
  what: Forwardable,
  output: CommandOutput,
  o?: AskOptions,
): Promise<{ code: number } | null> {
  const r = await askServer(socketPath, facts, what, output, o);
  return 'unsent' in r ? null : r;
}

/**
 * forwardCommand that also says why nothing was sent: nobody listens behind
 * the socket (refused, gone), or this process may not connect to it.
 */
export function askServer(
  socketPath: string,
  facts: DoorFacts,
  what: Forwardable,
  output: CommandOutput,
  o: AskOptions = {},
): Promise<{ code: number } | { unsent: NoServer }> {
  const idleMs = o.idleMs ?? 15 * 60 * 1000;
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    let sent = false;
    let heard = false;
    let settled = false;
    let buf = '';
    let chain = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    /** Stops sending input and puts the terminal back, when a command had asked for input. */
    let stopInput: (() => void) | null = null;
    let stopResize: (() => void) | null = null;
    const endInput = () => {
      stopInput?.();
      stopResize?.();
      stopInput = stopResize = null;
    };
    const send = (f: object): Promise<void> =>
      new Promise((resolve) => {
        if (settled || sock.destroyed || sock.writableEnded) return resolve();
        if (sock.write(JSON.stringify(f) + '\n')) resolve();
        else sock.once('drain', () => resolve());
      });
    const startInput = (raw: boolean) => {
      if (stopInput || !o.input?.open) return;
      stopInput = o.input.open(
        raw,
        async (d) => {
          for (let at = 0; at < d.length; at += MAX_IN_FRAME_BYTES)
            await send({ in: d.subarray(at, at + MAX_IN_FRAME_BYTES).toString('base64') });
        },
        () => void send({ eof: 1 }),
      );
      stopResize = o.input.onResize?.((s) => void send({ size: [s.cols, s.rows] })) ?? null;
    };
    const done = (r: { code: number } | { unsent: NoServer }) => {
      if (settled) return;
      settled = true;
      endInput();
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', leave);
      sock.destroy();
      resolve(r);
    };
    const fail = (line: string) => {
      if (settled) return;
      output.line(line, 'error');
      done({ code: 1 });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail('dcm: dcm-server did not answer in time'), idleMs);
    };
    // Ending our side is how the server learns the door left; the exit code still comes.
    const leave = () => sent && !sock.destroyed && sock.end();
    o.signal?.addEventListener('abort', leave, { once: true });
    arm();

    /** One frame; true once the answer is complete. */
    const frame = async (line: string): Promise<boolean> => {
      let f: Record<string, unknown>;
      try {
        f = JSON.parse(line) as Record<string, unknown>;
      } catch {
        fail('dcm: dcm-server gave a malformed answer (see its log)');
        return true;
      }
      if (typeof f.out === 'string') await output.write(f.out);
      else if (typeof f.o === 'string') await output.raw(Buffer.from(f.o, 'base64'), 'stdout');
      else if (typeof f.e === 'string') await output.raw(Buffer.from(f.e, 'base64'), 'stderr');
      else if (f.stdin === null) endInput();
      else if (typeof f.stdin === 'object' && f.stdin !== null) startInput((f.stdin as { raw?: unknown }).raw === true);
      else if (typeof f.err === 'string') output.line(f.err, 'error');
      else if (typeof f.progress === 'string') output.line(f.progress, 'progress');
      else if (typeof f.code === 'number' && typeof f.stdout === 'string' && typeof f.stderr === 'string') {
        // A server of protocol version 1 answers in one object (it refuses this door's version).
        await output.write(f.stdout);
        for (const l of f.stderr.split('\n')) if (l) output.line(l, 'error');
        done({ code: f.code });
        return true;
      } else if (typeof f.code === 'number') {
        done({ code: f.code });
        return true;
      }
      return false;
    };
    const frames = async (lines: string[]) => {
      for (const l of lines) if (settled || (await frame(l))) return;
    };

    sock.on('connect', () => {
      const t = o.input?.terminal;
      const req = { v: PROTOCOL_VERSION, facts, ...what, ...(t ? { tty: [t.cols, t.rows] } : {}) } as CommandRequest;
      sent = true;
      sock.write(JSON.stringify(req) + '\n');
      if (o.signal?.aborted) leave();
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      heard = true;
      arm();
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      if (buf.length > MAX_FRAME) return fail('dcm: dcm-server sent a frame too large');
      if (lines.length === 0) return;
      // Frames are handed on in order, and no more is read until they were taken.
      sock.pause();
      chain = chain.then(() => frames(lines)).then(() => void (settled || sock.resume()));
    });
    sock.on('end', () => {
      chain = chain.then(async () => {
        if (buf) await frames([buf]);
        fail(heard ? 'dcm: lost dcm-server while running the command' : 'dcm: dcm-server gave no answer (see its log)');
      });
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // Nothing was asked: no socket or nobody listening (the server is not running), or not ours to use.
      if (!sent) return done({ unsent: e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'not-running' : 'no-access' });
      chain = chain.then(() => fail(`dcm: lost dcm-server while running the command: ${e.message}`));
    });
  });
}
