/** Counts each user's open sessions (shells and commands) against a limit. */
export class SessionSlots {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Takes a slot; returns a release function, or null when the user is at the limit. */
  take(user: string): (() => void) | null {
    const n = this.open.get(user) ?? 0;
    if (n >= this.limit) return null;
    this.open.set(user, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(user) ?? 1) - 1;
      if (left > 0) this.open.set(user, left);
      else this.open.delete(user);
    };
  }

  /** The one line a user over the limit is told, whichever door they came through. */
  limitMessage(user: string): string {
    return `too many open sessions for ${user} (limit ${this.limit}): close one and try again`;
  }

  count(user: string): number {
    return this.open.get(user) ?? 0;
  }
}
