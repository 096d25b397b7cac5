/**
 * Per-address login throttling: after `maxFailures` failed logins from one
 * address within `windowMs`, that address is refused for `banMs`. Memory is
 * bounded: the oldest addresses are forgotten first.
 */

/** Limits for one throttle. */
export interface ThrottleLimits {
  maxFailures: number;
  windowMs: number;
  banMs: number;
  /** Most addresses remembered at once. */
  maxTracked?: number;
}

interface Entry {
  failures: number[];
  bannedUntil: number;
}

export class AddressThrottle {
  private readonly seen = new Map<string, Entry>();

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while the address is refused. */
  banned(ip: string): boolean {
    const e = this.seen.get(ip);
    return !!e && e.bannedUntil > this.now();
  }

  /** Records one failed login; returns true when this failure starts a ban. */
  fail(ip: string): boolean {
    const t = this.now();
    const e = this.seen.get(ip) ?? { failures: [], bannedUntil: 0 };
    this.seen.delete(ip); // re-insert: Map order is then least recently failed first
    e.failures = e.failures.filter((f) => f > t - this.limits.windowMs);
    e.failures.push(t);
    let started = false;
    if (e.failures.length >= this.limits.maxFailures && e.bannedUntil <= t) {
      e.bannedUntil = t + this.limits.banMs;
      e.failures = [];
      started = true;
    }
    this.seen.set(ip, e);
    const max = this.limits.maxTracked ?? 10_000;
    while (this.seen.size > max) this.seen.delete(this.seen.keys().next().value!);
    return started;
  }

  /** A successful login clears the address's failures (not an active ban). */
  succeed(ip: string): void {
    const e = this.seen.get(ip);
    if (e && e.bannedUntil <= this.now()) this.seen.delete(ip);
  }
}
