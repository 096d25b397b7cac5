/**
 * Generated hostile input for the fuzz tests: a small seeded PRNG and the
 * pieces a hostile client types or sends (control and escape sequences, bidi
 * and zero-width characters, invalid UTF-8, shell metacharacters, option
 * injection, lookalikes, very long lines, huge argument counts).
 *
 * Reproducing: every fuzz test prints its seed; DCM_FUZZ_SEED=<seed> runs the
 * same inputs again, and a failing case names its seed, target, index and the
 * input itself (as JSON). DCM_FUZZ_SCALE=<n> multiplies the number of cases
 * (default 1; the normal run stays bounded).
 */

/** The run's seed: DCM_FUZZ_SEED, or a fresh one; printed so that a failure reproduces. */
export function fuzzSeed(): number {
  const fromEnv = process.env.DCM_FUZZ_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
  return seed;
}

/** How many cases: `n` times DCM_FUZZ_SCALE (a whole number ≥ 1). */
export function fuzzCount(n: number): number {
  const scale = Number(process.env.DCM_FUZZ_SCALE ?? 1);
  return Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/**
 * A time budget for a fuzz loop: `ms` times DCM_FUZZ_SCALE. A loop that
 * reaches it stops early and says how many cases ran, so a loaded machine
 * runs fewer of the same seed's cases instead of outrunning the file's bound.
 */
export function fuzzBudgetMs(ms: number): number {
  const scale = Number(process.env.DCM_FUZZ_SCALE ?? 1);
  return Math.round(ms * (Number.isFinite(scale) && scale > 0 ? scale : 1));
}

/** A line to print once per target: how to run exactly these inputs again. */
export function seedLine(target: string, seed: number): string {
  return `fuzz ${target}: seed ${seed} (DCM_FUZZ_SEED=${seed} reproduces)`;
}

/** Names a failing case so that it reproduces from the message alone. */
export function caseLabel(target: string, seed: number, index: number, input: unknown): string {
  const shown = JSON.stringify(typeof input === 'string' || input instanceof Uint8Array ? show(input) : input);
  return `fuzz ${target} seed ${seed} case ${index} (DCM_FUZZ_SEED=${seed}): input ${shown.length > 600 ? `${shown.slice(0, 600)}… (${shown.length} chars)` : shown}`;
}

function show(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : `hex:${Buffer.from(input).toString('hex')}`;
}

/**
 * mulberry32: 32 bits of state, good enough spread for test input, and the
 * same sequence from the same seed on every machine.
 */
export class Rng {
  private s: number;
  constructor(seed: number, stream = '') {
    // Each target gets its own sequence, so adding cases to one leaves the others' inputs unchanged.
    let h = seed >>> 0;
    for (const ch of stream) h = Math.imul(h ^ ch.charCodeAt(0), 0x9e3779b1) >>> 0;
    this.s = h;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
}

export const COMMANDS = [
  'create',
  'show',
  'ps',
  'start',
  'stop',
  'restart',
  'pause',
  'unpause',
  'rm',
  'logs',
  'commit',
  'images',
  'rmi',
  'gpus',
  'whoami',
  'help',
] as const;

/** Words that try to pass as options, or to end them. */
const OPTION_WORDS = [
  '-',
  '--',
  '---',
  '--json',
  '--help',
  '-h',
  '-f',
  '--force',
  '--follow',
  '-n',
  '--name',
  '--name=',
  '--port',
  '--port=0',
  '--preset',
  '--mount',
  '--mount=/etc',
  '--gpus',
  '--gpus=all',
  '--privileged',
  '--volume=/:/host',
  '-v/:/host',
  '--user=root',
  '--state-dir=/tmp',
  '--=x',
  '-=',
  '--__proto__',
  '--constructor',
  '--toString',
  '--hasOwnProperty',
  '-1',
  '-9999999999',
];

/** Characters a shell would act on; dcm never runs a shell, so they must stay plain text. */
const SHELL_META = [
  ';',
  '|',
  '&',
  '&&',
  '||',
  '$(id)',
  '`id`',
  '>',
  '>>',
  '<',
  '*',
  '?',
  '~',
  '{a,b}',
  '[x]',
  '!',
  '#',
  '$HOME',
  '\\',
  "'",
  '"',
  '\n',
  '\r\n',
];

/** Terminal control: C0, DEL, C1, CSI/OSC/DCS sequences (title, clipboard, screen clear), bracketed paste. */
const CONTROL = [
  '\x00',
  '\x01',
  '\x03',
  '\x04',
  '\x07',
  '\x08',
  '\t',
  '\x0b',
  '\x0c',
  '\x0d',
  '\x15',
  '\x17',
  '\x19',
  '\x1a',
  '\x1b',
  '\x7f',
  '\x85',
  '\x9b',
  '\x9d',
  '\x1b[2J',
  '\x1b[31m',
  '\x1b[1;1H',
  '\x1b[6n',
  '\x1b]0;owned\x07',
  '\x1b]52;c;cm0gLXJmIC8=\x07',
  '\x1b]8;;http://x\x1b\\',
  '\x1bP+q\x1b\\',
  '\x1b[200~',
  '\x1b[201~',
  '\x9b2J',
  '\x1bc',
  '\x1b[?1049h',
];

/** Characters that reorder or hide text: bidi overrides, isolates and marks; zero-width; BOM; separators. */
const INVISIBLE = [
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u200e',
  '\u200f',
  '\u061c',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u00ad',
  '\u2028',
  '\u2029',
  '\u180e',
];

/** Lookalikes of command words and option dashes (Cyrillic, fullwidth, Unicode dashes), and lone surrogates. */
const LOOKALIKE = [
  'сreate', // Cyrillic с
  'shоw', // Cyrillic о
  'rм',
  'ｓｈｏｗ',
  '\u2010\u2010json', // hyphens
  '\u2212\u2212json', // minus signs
  '\u2014json', // em dash
  '\uff0d\uff0dname',
  '\u00a0',
  '\u3000',
  'ᅟ',
  '\ud800',
  '\udfff',
  '\ud83d',
  '😀',
  'é',
  'e\u0301',
  '\ufffd',
];

const NUMBERS = ['0', '1', '65535', '65536', '99999999999999999999', '1e3', '0x10', 'NaN', 'Infinity', '-0', '020000', '20000'];

const PLAIN = [
  'a',
  'box',
  'lab',
  'x-1',
  'alice',
  'bob',
  'dcm/debian-base:bookworm',
  'img:tag',
  'name:',
  ':tag',
  '..',
  '/',
  '/etc/passwd',
  '%s%n',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter syntax, as plain text
  '${IFS}',
];

/** One piece of hostile text. */
export function piece(r: Rng): string {
  switch (r.int(0, 7)) {
    case 0:
      return r.pick(OPTION_WORDS);
    case 1:
      return r.pick(SHELL_META);
    case 2:
      return r.pick(CONTROL);
    case 3:
      return r.pick(INVISIBLE);
    case 4:
      return r.pick(LOOKALIKE);
    case 5:
      return r.pick(NUMBERS);
    case 6:
      return r.pick(PLAIN);
    default:
      // Any code unit at all, surrogates included.
      return String.fromCharCode(r.int(0, 0xffff));
  }
}

/** One word: a few pieces, sometimes quoted (and sometimes with its quote left open). */
export function word(r: Rng): string {
  let w = '';
  const n = r.int(1, 4);
  for (let i = 0; i < n; i++) w += piece(r);
  const q = r.next();
  if (q < 0.1) return `"${w}"`;
  if (q < 0.2) return `'${w}'`;
  if (q < 0.23) return `"${w}`;
  return w;
}

/** A command line: mostly a real command then hostile words; some very long, some with thousands of words. */
export function commandLine(r: Rng, opts: { maxChars?: number } = {}): string {
  const max = opts.maxChars ?? 20_000;
  const first = r.chance(0.75) ? r.pick(COMMANDS) : word(r);
  const shape = r.int(0, 9);
  let words: string[];
  if (shape === 0) {
    // A huge argument count.
    const w = r.chance(0.5) ? 'a' : r.pick(OPTION_WORDS);
    words = Array.from({ length: r.int(500, Math.max(500, Math.floor(max / (w.length + 1)) - 2)) }, () => w);
  } else if (shape === 1) {
    // One very long word.
    words = [piece(r).repeat(r.int(100, Math.max(100, Math.floor(max / 2))))];
  } else {
    words = Array.from({ length: r.int(0, 8) }, () => word(r));
  }
  const line = [first, ...words].join(r.chance(0.9) ? ' ' : r.pick(['\t', '  ', '\u00a0', '\x0b']));
  return line.length > max ? line.slice(0, max) : line;
}

/**
 * C0 and C1 controls, DEL, and the characters that reorder or hide text on a
 * terminal: what a refusal line must never carry raw.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding raw control characters is the point
export const UNSAFE_ON_TERMINAL = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

/**
 * Keys of a terminal as readline and inquirer read them: editing and history
 * keys, Ctrl-C/-D/-U/-Z, arrows in their CSI and SS3 forms, Meta keys, undo
 * and redo.
 */
const KEYS = [
  '\r',
  '\n',
  '\t',
  '\x7f',
  '\x08',
  '\x01',
  '\x02',
  '\x03',
  '\x05',
  '\x06',
  '\x0b',
  '\x0c',
  '\x0e',
  '\x10',
  '\x15',
  '\x17',
  '\x19',
  '\x1a',
  '\x1e',
  '\x1f',
  '\x1b[A',
  '\x1b[B',
  '\x1b[C',
  '\x1b[D',
  '\x1bOA',
  '\x1bOD',
  '\x1b[H',
  '\x1b[F',
  '\x1b[1~',
  '\x1b[3~',
  '\x1b[4~',
  '\x1b[1;5C',
  '\x1b[1;5D',
  '\x1b[3;5~',
  '\x1bb',
  '\x1bf',
  '\x1bd',
  '\x1by',
  '\x1b\x7f',
  '\x1b\x1b[A',
];

/** Escape sequences cut short: what a terminal (or a client) sends when it stops in the middle. */
const PARTIAL_ESCAPES = [
  '\x1b',
  '\x1b[',
  '\x1b[1',
  '\x1b[1;',
  '\x1b[12;5',
  '\x1bO',
  '\x1b[[',
  '\x1b]',
  '\x1b]0;title',
  '\x1bP',
  '\x1b\x1b',
  '\x1b[200~',
];

/** Byte sequences that are not UTF-8: lone continuation bytes, overlong forms, encoded surrogates, cut characters, bytes never used. */
const INVALID_UTF8 = [
  [0x80],
  [0xbf],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5],
  [0xfe],
  [0xff],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xc2],
  [0xc2, 0x9b],
  [0xc2, 0x9d],
];

/** Text holding a byte a line editor reads as a key (C0 or DEL). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding key bytes is the point
const isKeyText = (s: string) => /[\x00-\x1f\x7f]/.test(s);

/**
 * What a hostile user types into the interactive shell, as the bytes its
 * terminal would send: command lines, editing keys, escape sequences cut
 * short, bracketed paste, invalid UTF-8, NUL, raw random bytes, runs of one
 * key and very long lines, a few pieces of each in one go. Ctrl-D (which ends the shell on an
 * empty line) comes rarely, so sessions last.
 */
export function typedInput(r: Rng): Buffer {
  const parts: Buffer[] = [];
  const n = r.int(1, 10);
  for (let i = 0; i < n; i++) {
    const k = r.int(0, 99);
    if (k < 25) parts.push(Buffer.from(commandLine(r, { maxChars: 300 })));
    else if (k < 45) parts.push(Buffer.from(r.pick(KEYS)));
    else if (k < 55) parts.push(Buffer.from(r.pick(PARTIAL_ESCAPES)));
    else if (k < 63) parts.push(Buffer.from(r.pick(CONTROL)));
    else if (k < 71) parts.push(Buffer.from(r.pick(INVALID_UTF8)));
    else if (k < 77) parts.push(Buffer.from(`\x1b[200~${commandLine(r, { maxChars: 200 })}${r.chance(0.8) ? '\x1b[201~' : ''}`));
    else if (k < 80) {
      // A very long line: one piece of text repeated to 2-9 KB (the prompt takes 4096 bytes).
      let p = piece(r);
      while (isKeyText(p)) p = piece(r);
      parts.push(Buffer.from(p.repeat(Math.ceil(r.int(2000, 9000) / Buffer.byteLength(p)))));
    } else if (k < 82) parts.push(Buffer.from(r.pick(KEYS).repeat(r.int(2, 200))));
    else if (k < 86) parts.push(r.bytes(r.int(1, 64)));
    else if (k < 90) parts.push(Buffer.from('\x00'.repeat(r.int(1, 4))));
    else if (k < 91) parts.push(Buffer.from('\x04'));
    else parts.push(Buffer.from(`${r.pick(COMMANDS)} ${word(r)}`));
  }
  return Buffer.concat(parts);
}
