/** The server's listen address: "ADDR:PORT", IPv6 in brackets. */
import { DcmError } from '../errors.js';

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new DcmError('usage', `--listen ${text}: expected ADDR:PORT, e.g. 127.0.0.1:2222`);
  return { host: m[1] ?? m[2]!, port };
}
