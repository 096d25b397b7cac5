/**
 * Per-user command rate: a token bucket per user, so one user's flood of
 * commands (scripted, or many sessions at once) is refused at the door and
 * cannot take the engine, the database or the event loop from everyone else.
 * A bucket holds `burst` commands and refills at `perMinute`; a user who waits
 * gets the full burst back. Memory is bounded: the least recently seen users
 * are forgotten first (forgetting one only gives that user a full bucket).
 */

export interface RateLimits {
  /** Commands a minute, sustained. */
  perMinute: number;
  /** Commands at once after a pause (the bucket's size). */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_TRACKED = 10_000;

export class CommandRate {
  private readonly buckets = new Map<string, Bucket>();

  /** `limits` is read at every command, so a reloaded configuration applies at once. */
  constructor(
    private readonly limits: () => RateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one command from the user's bucket: 0 when allowed, else the seconds until the next one is. */
  take(user: string): number {
    const { perMinute, burst } = this.limits();
    const t = this.now();
    const b = this.buckets.get(user) ?? { tokens: burst, at: t };
    this.buckets.delete(user); // re-inserted below: Map order is then least recently seen first
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 60_000) * perMinute);
    b.at = t;
    let wait = 0;
    if (b.tokens >= 1) b.tokens -= 1;
    else wait = Math.max(1, Math.ceil(((1 - b.tokens) * 60) / perMinute));
    this.buckets.set(user, b);
    while (this.buckets.size > MAX_TRACKED) this.buckets.delete(this.buckets.keys().next().value!);
    return wait;
  }
}
