/**
 * The one unit system for sizes: binary. `k`, `m`, `g`, `t` are KiB, MiB, GiB,
 * TiB whether an admin writes them (`memory: 2g`) or dcm shows them (whoami,
 * images, refusals, policy show), and a size is shown the way it would be
 * written: 2 GiB is "2g", never "2.1GB". JSON carries bytes.
 */
import { DcmError } from './errors.js';

const MULTIPLIER = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 } as const;
const SUFFIXES = ['k', 'm', 'g', 't'] as const;

/** "512m", "2g", "7.5g", "1073741824" (bytes; a trailing "b" is allowed) → bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)b?$/i.exec(text.trim());
  if (!m) throw new DcmError('invalid', `not a size: ${text}`);
  return Math.round(Number(m[1]) * MULTIPLIER[m[2]!.toLowerCase() as keyof typeof MULTIPLIER]);
}

/**
 * Bytes as an admin would write them, to three significant digits: "2g",
 * "7.5g", "512m", "118m"; under 1k the plain number of bytes.
 */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return String(Math.round(bytes));
  let unit = -1;
  let v = bytes;
  let shown = '';
  // A value that rounds up to 1024 of one unit is shown in the next ("1g", not "1024m").
  do {
    v /= 1024;
    unit++;
    shown = String(+v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0));
  } while (Number(shown) >= 1024 && unit < SUFFIXES.length - 1);
  return `${shown}${SUFFIXES[unit]}`;
}
