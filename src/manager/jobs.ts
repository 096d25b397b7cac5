/**
 * Batch jobs: `run` (create a job through the create saga, attached or
 * detached), `attach`, `wait` and `exec`. What the caller types reaches the
 * container only as argv; the caller's terminal, input and output reach it
 * through JobIo, which each door provides (through the shell's
 * CommandInput and CommandOutput).
 *
 * An attached job belongs to its caller: when the caller goes away (the
 * connection closes, or an interrupt without a terminal) the job is stopped
 * (and with --rm removed). A detached job (`run -d`, or detach keys
 * Ctrl-P Ctrl-Q) outlives every connection. With --rm the engine removes the
 * container when it ends, whether or not a dcm process is still there; its
 * row goes with the waiting process, with the owner's next `show`, `run` or
 * `create`, or with reconcile (pruneEndedJobs).
 */
import { DcmError } from '../errors.js';
import type { ExecSpec, StdioStream, TtySize } from '../engine/engine.js';
import { LABEL_ROOT_LOGIN } from '../engine/labels.js';
import type { ContainerRow } from '../store/containers-repo.js';
import type { UserRow } from '../store/users-repo.js';
import type { Deps } from './deps.js';
import { createContainer, type CreateRequest } from './create-container.js';
import { jobOf } from './job-facts.js';
import { effectivePolicy } from '../policy/effective.js';

/** The caller's side of an attached job, as a door gives it. */
export interface JobIo {
  /** The job's output, as it comes; awaited before more is read. */
  output(data: Buffer, to: 'stdout' | 'stderr'): Promise<void>;
  /** The caller's terminal size; null when the caller has no terminal. */
  terminal: TtySize | null;
  /**
   * Starts handing the caller's input on (raw: the caller's terminal passes
   * every key, Ctrl-C included); `onEnd` at its end. Returns a function
   * that stops it. Absent when the door has no input to give.
   */
  openInput?(raw: boolean, onData: (data: Buffer) => Promise<void>, onEnd: () => void): () => void;
  /** Tells `listener` each new window size; returns a function that stops telling. */
  onResize?(listener: (size: TtySize) => void): () => void;
  /** Aborted when the caller goes away (or interrupts, without a terminal). */
  signal: AbortSignal;
}

/** How an attached job or exec ended for its caller. */
export type AttachEnd = { exitCode: number } | { detached: true };

/** Rows of `owner`'s --rm jobs whose container the engine has removed: deleted now. Returns their ids. */
export async function pruneEndedJobs(deps: Deps, owner: string, listed?: Set<string>): Promise<number[]> {
  const { store, engine } = deps;
  const gone: number[] = [];
  for (const r of store.containers.byOwner(owner)) {
    if (!r.auto_remove || r.state !== 'created' || !r.docker_id) continue;
    if (listed?.has(r.docker_id)) continue;
    if (await engine.inspect(r.docker_id)) continue;
    // By id, owner and Docker id: the id may have been freed and taken by another create while we asked.
    if (store.containers.deleteIfSame(r)) gone.push(r.id);
  }
  return gone;
}

/** Creates the job and, unless detached, attaches the caller until it ends; the row of an --rm job goes with it. */
export async function runJob(
  deps: Deps,
  user: UserRow,
  req: CreateRequest & { job: NonNullable<CreateRequest['job']> },
  io: JobIo,
): Promise<{ row: ContainerRow; end: AttachEnd | null }> {
  const job = req.job;
  if (!job.attached) return { row: await createContainer(deps, user, req), end: null };
  let stdio: StdioStream | undefined;
  let wait: ReturnType<Deps['engine']['waitFor']> | undefined;
  let row: ContainerRow;
  try {
    row = await createContainer(deps, user, req, undefined, {
      // Attached, and the wait registered, before the start: no output and no end is missed.
      async beforeStart(dockerId) {
        stdio = await deps.engine.attach(dockerId, { stdin: job.stdin, tty: job.tty });
        wait = deps.engine.waitFor(dockerId, job.rm ? 'removed' : 'next-exit');
        await wait.registered;
      },
    });
  } catch (e) {
    stdio?.close();
    throw e;
  }
  const end = await follow(deps, row.docker_id!, stdio!, wait!, job.tty, job.stdin, io, (size) => deps.engine.resize(row.docker_id!, size));
  if ('exitCode' in end && job.rm) forgetRow(deps, row);
  return { row, end };
}

/** Re-attaches the caller to a running job of theirs. */
export async function attachJob(deps: Deps, row: ContainerRow, io: JobIo): Promise<AttachEnd> {
  const facts = jobOf(row);
  if (!facts) throw new DcmError('conflict', `container ${row.id} runs sshd, not a job: log in with ssh -p ${row.id}`);
  const id = row.docker_id!;
  const st = await deps.engine.inspect(id);
  if (st?.state !== 'running') throw notRunning(row, st?.state ?? 'gone');
  const stdio = await deps.engine.attach(id, { stdin: facts.stdin, tty: facts.tty });
  const wait = deps.engine.waitFor(id, row.auto_remove ? 'removed' : 'not-running', io.signal);
  const end = await follow(deps, id, stdio, wait, facts.tty, facts.stdin, io, (size) => deps.engine.resize(id, size), false);
  if ('exitCode' in end && row.auto_remove) forgetRow(deps, row);
  return end;
}

/** The job's exit code once it is not running (at once for one that ended); `signal` stops waiting. */
export async function waitJob(deps: Deps, row: ContainerRow, signal: AbortSignal): Promise<number> {
  const id = row.docker_id!;
  const st = await deps.engine.inspect(id);
  if (!st && row.auto_remove) {
    forgetRow(deps, row);
    throw new DcmError('not-found', `job ${row.id} has ended and was removed (--rm): its exit code is not kept`);
  }
  if (!st) throw notRunning(row, 'gone');
  if (st.state !== 'running' && st.state !== 'paused' && st.state !== 'restarting' && st.exitCode !== undefined) return st.exitCode;
  const w = deps.engine.waitFor(id, row.auto_remove ? 'removed' : 'not-running', signal);
  const stopped = new Promise<never>((_r, reject) => {
    const no = () => reject(new DcmError('conflict', `stopped waiting for ${row.id}; it goes on`));
    if (signal.aborted) no();
    signal.addEventListener('abort', no, { once: true });
  });
  stopped.catch(() => undefined);
  const code = await Promise.race([w.exitCode, stopped]);
  if (row.auto_remove) forgetRow(deps, row);
  return code;
}

/** What `exec` runs, as the user typed it. */
export interface ExecRequest {
  command: string[];
  tty: boolean;
  stdin: boolean;
  root: boolean;
}

/** Runs a command in a running container of the caller's, attached; its exit code is the command's. */
export async function execIn(deps: Deps, user: UserRow, row: ContainerRow, x: ExecRequest, io: JobIo): Promise<number> {
  const id = row.docker_id!;
  const st = await deps.engine.inspect(id);
  if (st?.state !== 'running') throw notRunning(row, st?.state ?? 'gone');
  // Root only where both the container was made to let root in (a container made before the label
  // existed says nothing, and counts as no) and the policy still lets this user be root.
  if (x.root && mayNotBeRoot(deps, user))
    throw new DcmError('denied', `exec --root is refused: you may not be root in your containers (the administrator set "user: host")`);
  if (x.root && st.labels[LABEL_ROOT_LOGIN] !== 'yes')
    throw new DcmError('denied', `exec --root is refused: container ${row.id} was not made to let root in`);
  const home = x.root ? '/root' : `/home/${user.name}`;
  const who = x.root ? 'root' : user.name;
  const spec: ExecSpec = {
    cmd: x.command,
    user: x.root ? '0:0' : `${user.uid}:${user.gid}`,
    workingDir: home,
    env: { HOME: home, USER: who, LOGNAME: who, ...(x.tty ? { TERM: 'xterm' } : {}) },
    tty: x.tty,
    stdin: x.stdin,
  };
  const execId = await deps.engine.createExec(id, spec);
  const stdio = await deps.engine.startExec(execId, x.tty);
  if (x.tty && io.terminal) await deps.engine.resizeExec(execId, io.terminal).catch(() => undefined);
  const stopResize = x.tty && io.onResize ? io.onResize(latestSize((s) => deps.engine.resizeExec(execId, s))) : null;
  const stopInput =
    x.stdin && io.openInput
      ? io.openInput(
          x.tty,
          (d) => stdio.write(d),
          () => x.tty || stdio.endInput(),
        )
      : null;
  // The engine cannot kill an exec: a caller that leaves closes its stdio (EOF and a hang-up for the command).
  const leave = () => stdio.close();
  io.signal.addEventListener('abort', leave, { once: true });
  try {
    await stdio.pump((d, to) => io.output(d, to));
  } finally {
    io.signal.removeEventListener('abort', leave);
    stopInput?.();
    stopResize?.();
    stdio.close();
  }
  // The engine records the exit code a moment after the stream ends.
  for (let i = 0; i < 50; i++) {
    const code = await deps.engine.execExitCode(execId);
    if (code !== null) return code;
    await new Promise((r) => setTimeout(r, 20));
  }
  return (await deps.engine.execExitCode(execId)) ?? 1;
}

/**
 * Watches the caller's keys for Ctrl-P Ctrl-Q (docker's detach keys): bytes
 * are passed on as they come, except a Ctrl-P at the end of a piece, held
 * until the next key shows whether it starts the sequence. dcm sees the keys
 * itself (they pass through it), so a detach is never mistaken for an end.
 */
function detachWatch(pass: (d: Buffer) => Promise<void>, onDetach: () => void): (d: Buffer) => Promise<void> {
  let held = false;
  let done = false;
  return async (d) => {
    if (done) return;
    const b = held ? Buffer.concat([Buffer.from([CTRL_P]), d]) : d;
    held = false;
    for (let i = 0; i + 1 < b.length; i++) {
      if (b[i] === CTRL_P && b[i + 1] === CTRL_Q) {
        done = true;
        if (i > 0) await pass(b.subarray(0, i));
        return onDetach();
      }
    }
    if (b[b.length - 1] === CTRL_P) {
      held = true;
      if (b.length > 1) await pass(b.subarray(0, -1));
      return;
    }
    await pass(b);
  };
}

const CTRL_P = 0x10;
const CTRL_Q = 0x11;

/**
 * Passes output, input and window sizes between the caller and an attached
 * job until its stream ends; then tells an end from a detach. `stopOnLeave`:
 * a caller going away stops the job (an attached `run`); a re-attached caller
 * going away only detaches.
 */
async function follow(
  deps: Deps,
  dockerId: string,
  stdio: StdioStream,
  wait: ReturnType<Deps['engine']['waitFor']>,
  tty: boolean,
  stdin: boolean,
  io: JobIo,
  resize: (size: TtySize) => Promise<void>,
  stopOnLeave = true,
): Promise<AttachEnd> {
  wait.exitCode.catch(() => undefined);
  if (tty && io.terminal) await resize(io.terminal).catch(() => undefined);
  const stopResize = tty && io.onResize ? io.onResize(latestSize(resize)) : null;
  let detached = false;
  // Detach keys on a terminal only: piped input passes as it is, whatever bytes it holds.
  const keys = tty
    ? detachWatch(
        (d) => stdio.write(d),
        () => {
          detached = true;
          stdio.close();
        },
      )
    : (d: Buffer) => stdio.write(d);
  // The end of the caller's input ends the job's stdin, except on a terminal: there the engine would
  // close the job's output with it (a terminal has no end of input; the job ends on its own).
  const stopInput = stdin && io.openInput ? io.openInput(tty, keys, () => tty || stdio.endInput()) : null;
  const leave = () => {
    if (stopOnLeave) void deps.engine.stop(dockerId, deps.config.engine.stop_timeout).catch(() => undefined);
    else {
      detached = true;
      stdio.close();
    }
  };
  io.signal.addEventListener('abort', leave, { once: true });
  if (io.signal.aborted) leave();
  try {
    await stdio.pump((d, to) => io.output(d, to));
  } finally {
    stopInput?.();
    stopResize?.();
    stdio.close();
    io.signal.removeEventListener('abort', leave);
  }
  // The stream ended: with the job, or because the caller detached (their keys, or leaving a re-attach).
  if (detached) return { detached: true };
  return { exitCode: await wait.exitCode };
}

/** An --rm job that ended: the engine removed its container; its row, and with it its id, goes now. */
function forgetRow(deps: Deps, row: ContainerRow): void {
  deps.store.tx(() => {
    // The row as read when the job began: a caller who stopped reading may come back long after another
    // command pruned it and another user's create took its id; that row is not this job's.
    if (!deps.store.containers.deleteIfSame(row)) return;
    deps.store.audit.record({ actor: row.owner, action: 'rm', target: row.id, ok: true, detail: 'job ended (--rm)' });
  });
}

/**
 * Window sizes for the engine, one request at a time and only the latest: a
 * client that floods window changes (each one a Docker resize) costs the
 * engine one request in flight, never thousands at once.
 */
export function latestSize(send: (size: TtySize) => Promise<void>): (size: TtySize) => void {
  let busy = false;
  let next: TtySize | null = null;
  const pump = async () => {
    busy = true;
    while (next) {
      const size = next;
      next = null;
      await send(size).catch(() => undefined);
    }
    busy = false;
  };
  return (size) => {
    next = size;
    if (!busy) void pump();
  };
}

/** The policy now says `user: host` for this user. */
function mayNotBeRoot(deps: Deps, user: UserRow): boolean {
  return effectivePolicy(deps.config, user.name, deps.store.users.groups(user.name)).runAs.value === 'host';
}

function notRunning(row: ContainerRow, state: string): DcmError {
  return new DcmError('conflict', `container ${row.id} is ${state === 'gone' ? 'gone from the engine' : state}: it is not running`);
}
