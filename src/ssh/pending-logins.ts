/**
 * Connections that have not logged in yet, counted per address and in total
 * (like OpenSSH's MaxStartups and PerSourceMaxStartups): each costs a key
 * exchange and a grace timer, so one client must not be able to hold
 * arbitrarily many.
 */
export interface PendingLimits {
  total: number;
  perAddress: number;
}

export type Admission = 'ok' | 'address-full' | 'total-full';

export class PendingLogins {
  private readonly byAddress = new Map<string, number>();
  private all = 0;

  constructor(private readonly limits: PendingLimits) {}

  /** Counts one more pre-login connection from `ip`, unless a cap is reached. */
  admit(ip: string): Admission {
    const n = this.byAddress.get(ip) ?? 0;
    if (n >= this.limits.perAddress) return 'address-full';
    if (this.all >= this.limits.total) return 'total-full';
    this.byAddress.set(ip, n + 1);
    this.all++;
    return 'ok';
  }

  /** The connection logged in or went away. */
  release(ip: string): void {
    const n = this.byAddress.get(ip) ?? 0;
    if (n <= 0) return;
    if (n === 1) this.byAddress.delete(ip);
    else this.byAddress.set(ip, n - 1);
    this.all--;
  }

  get total(): number {
    return this.all;
  }
}
