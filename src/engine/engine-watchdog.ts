/**
 * Bounds every engine call by the engine's liveness, not by a fixed time.
 *
 * A stopped dockerd refuses connections at once, but one that is starting
 * (its socket already listening, its API not yet served), frozen or wedged
 * accepts a request and never answers: without a bound, a command — and the
 * SSH session running it — would wait forever. A fixed time-out would be
 * wrong for calls that are slow on a healthy engine (stop waits for the
 * container, commit writes a layer), so a call that has not answered after
 * FIRST_CHECK_MS makes the watchdog ping the engine on a fresh connection:
 * when the ping fails or does not answer within PING_TIMEOUT_MS, the call is
 * torn down and fails as "container engine unavailable"; when the ping
 * answers, the engine is alive and the call keeps waiting, checked again
 * every RECHECK_MS. So a command answers within FIRST_CHECK_MS +
 * PING_TIMEOUT_MS while the engine is down, and a slow call on a live engine
 * is never cut short. Calls waiting at the same moment share one ping (a
 * burst of slow calls on a busy engine costs it one ping, not one each). A
 * streamed answer (logs) is watched until its headers come.
 */
import { request } from 'node:http';
import { DcmError } from '../errors.js';

export interface WatchTiming {
  firstCheckMs: number;
  pingTimeoutMs: number;
  recheckMs: number;
}

export const WATCH_TIMING: WatchTiming = { firstCheckMs: 2000, pingTimeoutMs: 3000, recheckMs: 5000 };

type DialCallback = (err: unknown, data?: unknown) => void;

interface DialOptions {
  path?: string;
  method?: string;
  abortSignal?: AbortSignal;
}

/** The one entry point of docker-modem every dockerode call goes through. */
interface Modem {
  dial(options: DialOptions, callback: DialCallback): void;
}

/** Whether the engine answers a ping on a new connection within `timeoutMs`. */
function pingSocket(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(ok);
    };
    // agent: false — never a pooled connection, which may be the very one that hangs.
    const req = request({ socketPath, path: '/_ping', method: 'GET', agent: false }, (res) => {
      res.resume();
      finish(res.statusCode === 200);
    });
    const timer = setTimeout(() => finish(false), timeoutMs);
    req.on('error', () => finish(false));
    req.end();
  });
}

/** Makes every call through `modem` fail as "container engine unavailable" once the engine stops answering. */
export function watchEngineCalls(modem: Modem, socketPath: string, timing: WatchTiming = WATCH_TIMING): void {
  const dial = modem.dial.bind(modem);
  let pinging: Promise<boolean> | null = null;
  /** The ping in flight, or a new one: its answer holds for every call checking meanwhile. */
  const ping = () =>
    (pinging ??= pingSocket(socketPath, timing.pingTimeoutMs).finally(() => {
      pinging = null;
    }));
  modem.dial = (options: DialOptions, callback: DialCallback) => {
    const abort = new AbortController();
    const theirs = options.abortSignal;
    // The caller's own signal (logs -f) still tears the request down; ours is added to it.
    const signal = theirs ? AbortSignal.any([theirs, abort.signal]) : abort.signal;
    const started = Date.now();
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (err: unknown, data?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      callback(err, data);
    };
    const check = async () => {
      if (settled) return;
      if (await ping()) {
        if (!settled) timer = setTimeout(check, timing.recheckMs);
        return;
      }
      if (settled) return;
      const waited = ((Date.now() - started) / 1000).toFixed(1);
      settle(
        new DcmError(
          'unavailable',
          'container engine unavailable',
          `${options.method ?? 'GET'} ${options.path ?? ''}: no answer after ${waited}s and the engine does not answer a ping`,
        ),
      );
      abort.abort();
    };
    timer = setTimeout(check, timing.firstCheckMs);
    dial({ ...options, abortSignal: signal }, settle);
  };
}
