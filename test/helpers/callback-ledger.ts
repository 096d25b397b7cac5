/**
 * A record of which callbacks the SSH server ran and how it answered each:
 * every event ssh2 hands the server's connection and session objects
 * (authentication, session, pty, exec, shell, env, x11, agent, signal, sftp,
 * subsystem, window-change, close) and every exit status it sends, in order,
 * per connection and per session. A test then asserts the exact list: each
 * expected callback ran, with the expected answer, and nothing else did.
 *
 * It watches by wrapping `emit` on the objects ssh2 creates, so the server's
 * own handlers run unchanged; only the answer callbacks are wrapped to note
 * which one was called.
 */
import type { EventEmitter } from 'node:events';

/** One callback the server ran; `answer` is filled in when its handler answers. */
export interface LedgerEntry {
  scope: string;
  what: string;
  answer?: 'accept' | 'reject';
}

/** ssh2's own bookkeeping events, not answers to anything the client asked. */
const QUIET = new Set([
  'newListener',
  'removeListener',
  'handshake',
  'greeting',
  'rekey',
  'end',
  'eof',
  'drain',
  'finish',
  'data',
  'prefinish',
  'resume',
  'pause',
  'readable',
]);

/** Events whose first two arguments are ssh2's accept and reject (either may be absent). */
const REQUESTS = new Set([
  'session',
  'tcpip',
  'openssh.streamlocal',
  'request',
  'pty',
  'window-change',
  'env',
  'x11',
  'auth-agent',
  'signal',
  'shell',
  'exec',
  'sftp',
  'subsystem',
]);

type Answer = ((...a: unknown[]) => unknown) | undefined;

export class CallbackLedger {
  readonly entries: LedgerEntry[] = [];
  private connections = 0;
  private readonly waiters = new Set<() => void>();

  /** The scope of the connection the server took last ("conn3"). */
  get lastConnection(): string {
    return `conn${this.connections}`;
  }

  /** The calls in one scope ("conn1", "conn1.session1"), as "what:answer" (or "what" when unanswered). */
  calls(scope: string): string[] {
    return this.entries.filter((e) => e.scope === scope).map((e) => (e.answer ? `${e.what}:${e.answer}` : e.what));
  }

  /** Exactly these calls ran in the scope, in this order: a missing one and an extra one both fail, named. */
  assertCalls(scope: string, expected: string[]): void {
    const got = this.calls(scope);
    if (got.length === expected.length && got.every((g, i) => g === expected[i])) return;
    const missing = expected.filter((e) => !got.includes(e));
    const extra = got.filter((g) => !expected.includes(g));
    throw new Error(
      `${scope}: callbacks ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}` +
        (missing.length ? `; did not run: ${missing.join(', ')}` : '') +
        (extra.length ? `; ran unexpectedly: ${extra.join(', ')}` : ''),
    );
  }

  /** Resolves once `scope` has recorded `what` `times` times (bounded: a callback that never runs fails the test). */
  async waitFor(scope: string, what: string, times = 1, ms = 5000): Promise<void> {
    const seen = () => this.entries.filter((e) => e.scope === scope && e.what === what).length >= times;
    if (seen()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!seen()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${scope}: "${what}" did not run ${times} time(s) within ${ms} ms; ran: ${JSON.stringify(this.calls(scope))}`));
      }, ms);
      this.waiters.add(check);
    });
  }

  /** Watches one server-side connection (ssh2's Connection) from its first event on. */
  watchConnection(conn: EventEmitter): string {
    const scope = `conn${++this.connections}`;
    let sessions = 0;
    this.watch(conn, (event, args) => {
      if (event === 'authentication') {
        const ctx = args[0] as { method: string; accept: Answer; reject: Answer };
        const e = this.add(scope, `auth ${ctx.method}`);
        ctx.accept = this.answering(e, 'accept', ctx.accept?.bind(ctx));
        ctx.reject = this.answering(e, 'reject', ctx.reject?.bind(ctx));
        return args;
      }
      const e = this.add(scope, event);
      if (event !== 'session') return this.answerArgs(e, args);
      const [accept, reject] = args as [Answer, Answer];
      // The session object exists only once accepted: watch it from there.
      const acceptSession = (...a: unknown[]) => {
        e.answer = 'accept';
        this.notify();
        const session = accept!(...a) as EventEmitter | undefined;
        if (session) this.watchSession(session, `${scope}.session${++sessions}`);
        return session;
      };
      return [acceptSession, this.answering(e, 'reject', reject), ...args.slice(2)];
    });
    return scope;
  }

  private watchSession(session: EventEmitter, scope: string): void {
    this.watch(session, (event, args) => {
      const e = this.add(scope, event === 'env' || event === 'subsystem' ? `${event} ${describe(args[2])}` : event);
      const out = this.answerArgs(e, args);
      if (event !== 'exec' && event !== 'shell') return out;
      // An accepted exec or shell returns its channel: note the exit status it sends.
      const accept = out[0] as Answer;
      out[0] = (...a: unknown[]) => {
        const ch = accept!(...a) as { exit?: (...x: unknown[]) => unknown } | undefined;
        if (ch?.exit) {
          const exit = ch.exit.bind(ch);
          ch.exit = (...x: unknown[]) => {
            this.add(scope, `exit-status ${String(x[0])}`);
            return exit(...x);
          };
        }
        return ch;
      };
      return out;
    });
  }

  /** Routes every event of `target` through `map` (which records it) before its listeners run. */
  private watch(target: EventEmitter, map: (event: string, args: unknown[]) => unknown[]): void {
    const emit = target.emit.bind(target);
    target.emit = (event: string | symbol, ...args: unknown[]) => {
      if (typeof event !== 'string' || QUIET.has(event)) return emit(event, ...args);
      return emit(event, ...map(event, args));
    };
  }

  /**
   * Wraps (accept, reject, ...rest). When the client asked for no reply, ssh2
   * passes no callbacks; the ledger then passes its own, which only record, so
   * that a handler's refusal is seen even where nothing goes back on the wire.
   */
  private answerArgs(e: LedgerEntry, args: unknown[]): unknown[] {
    if (!REQUESTS.has(e.what.split(' ')[0]!)) return args; // close, ready, error: nothing to answer
    const [accept, reject, ...rest] = args;
    return [this.answering(e, 'accept', accept as Answer), this.answering(e, 'reject', reject as Answer), ...rest];
  }

  private answering(e: LedgerEntry, answer: 'accept' | 'reject', fn: Answer): (...a: unknown[]) => unknown {
    return (...a: unknown[]) => {
      e.answer ??= answer;
      this.notify();
      return fn?.(...a);
    };
  }

  private add(scope: string, what: string): LedgerEntry {
    const e: LedgerEntry = { scope, what };
    this.entries.push(e);
    this.notify();
    return e;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** The name part of an env or subsystem request, for the ledger line. */
function describe(info: unknown): string {
  const i = info as { key?: unknown; name?: unknown } | undefined;
  return String(i?.key ?? i?.name ?? '');
}
