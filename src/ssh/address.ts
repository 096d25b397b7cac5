/**
 * One spelling per client address. A dual-stack listener ([::]:PORT) sees an
 * IPv4 client as "::ffff:a.b.c.d"; every place that counts, bans or logs an
 * address uses this form, so failures, bans, pre-login caps and the log all
 * name the same client the same way.
 */
export function clientAddress(ip: string | undefined): string {
  const a = ip ?? '';
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  return m ? m[1]! : a;
}
