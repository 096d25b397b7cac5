/**
 * The one argument parser of every dcm program and shell command. Each
 * declares its flags and positional arguments (an ArgSpec); anything else is
 * refused with one line naming it, and help is generated from the same spec
 * (help.ts).
 *
 * Two ways to read words:
 *   parseArgs   all of them: a shell command, an admin tool, dcm-server, dcm-shell;
 *   takeOptions only the spec's flags, wherever they stand, leaving every other
 *               word in order for the next parser: the global options of
 *               `dcm` and `dcm-admin`, which stand among a command's own words.
 * After "--" every word is an argument, never an option.
 */
import { DcmError } from '../errors.js';
import { clip } from '../names.js';

export interface FlagSpec {
  type: 'bool' | 'string' | 'list';
  short?: string;
  /** Placeholder shown in usage, e.g. NAME. */
  value?: string;
  help: string;
  /** Refuse an empty value (`--state-dir=`), which would quietly mean the current directory. */
  notEmpty?: boolean;
}

export interface ArgSpec {
  flags: Record<string, FlagSpec>;
  /** Names of positional arguments; a trailing "?" marks optional ones. */
  positional: string[];
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positional: string[];
}

/** How refusals read and which flags come on top of the spec's. */
export interface ParseOptions {
  /**
   * A program (dcm-server, dcm-useradd, dcm-admin users key): its error line
   * already starts with its name, so a refusal does not repeat it, and points
   * to `NAME --help`. Otherwise a shell command: `create: ... (try "help create")`.
   */
  program?: boolean;
  /**
   * Flags taken on top of the spec's, left out of its usage line. Default
   * COMMON_FLAGS (--json, --help), which every shell command and admin tool
   * takes; a program without --json gives just { help: HELP_FLAG }.
   */
  extra?: Record<string, FlagSpec>;
}

/** Flags every command takes. */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'bool', help: 'print machine-readable JSON' },
  help: { type: 'bool', short: 'h', help: 'show help for this command' },
};

export const HELP_FLAG: FlagSpec = COMMON_FLAGS.help!;

/** Reads every word: flags of the spec, then exactly the positional arguments it names. */
export function parseArgs(cmd: string, words: string[], spec: ArgSpec, opts: ParseOptions = {}): ParsedArgs {
  const { flags, rest } = scan(cmd, words, spec.flags, opts, false);
  const positional = rest;
  const at = opts.program ? '' : `${cmd}: `;
  const required = spec.positional.filter((p) => !p.endsWith('?')).length;
  if (!flags.help && positional.length < required) {
    throw new DcmError('usage', `${at}missing ${spec.positional[positional.length]!.replace(/\?$/, '')} (usage: ${usageLine(cmd, spec)})`);
  }
  if (positional.length > spec.positional.length) {
    throw new DcmError('usage', `${at}unexpected argument "${clip(positional[spec.positional.length]!)}" (usage: ${usageLine(cmd, spec)})`);
  }
  return { flags, positional };
}

/**
 * Takes the given flags wherever they stand and returns every other word in
 * order: unknown options and arguments are left for the command's own parser,
 * and a "--" stays in `rest` with everything after it.
 */
export function takeOptions(
  cmd: string,
  words: string[],
  flags: Record<string, FlagSpec>,
  opts: ParseOptions = {},
): { flags: ParsedArgs['flags']; rest: string[] } {
  return scan(cmd, words, flags, { ...opts, extra: opts.extra ?? {} }, true);
}

function scan(
  cmd: string,
  words: string[],
  specFlags: Record<string, FlagSpec>,
  opts: ParseOptions,
  passThrough: boolean,
): { flags: ParsedArgs['flags']; rest: string[] } {
  const flags: ParsedArgs['flags'] = {};
  const rest: string[] = [];
  const all = { ...(opts.extra ?? COMMON_FLAGS), ...specFlags };
  const byShort = new Map(
    Object.entries(all)
      .filter(([, f]) => f.short)
      .map(([n, f]) => [f.short!, n]),
  );
  const at = opts.program ? '' : `${cmd}: `;
  const hint = opts.program ? `try "${cmd} --help"` : `try "help ${cmd}"`;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      rest.push(...words.slice(passThrough ? i : i + 1));
      break;
    }
    if (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w)) {
      const eq = w.indexOf('=');
      const name = w.startsWith('--') ? w.slice(2, eq > 0 ? eq : undefined) : (byShort.get(w.slice(1)) ?? w.slice(1));
      const f = Object.hasOwn(all, name) ? all[name] : undefined;
      if (!f || (!w.startsWith('--') && !byShort.has(w.slice(1)))) {
        if (passThrough) {
          rest.push(w);
          continue;
        }
        throw new DcmError('usage', `${at}unknown option ${clip(w.split('=')[0]!)} (${hint})`);
      }
      if (f.type === 'bool') {
        if (eq > 0) throw new DcmError('usage', `${at}--${name} takes no value`);
        flags[name] = true;
        continue;
      }
      const val = eq > 0 ? w.slice(eq + 1) : words[++i];
      if (val === undefined || (f.notEmpty && val === ''))
        throw new DcmError('usage', `${at}--${name} needs a value (${f.value ?? 'VALUE'})`);
      if (f.type === 'string') {
        if (flags[name] !== undefined) throw new DcmError('usage', `${at}--${name} given twice`);
        flags[name] = val;
      } else {
        const list = (flags[name] as string[] | undefined) ?? [];
        list.push(val);
        flags[name] = list;
      }
      continue;
    }
    rest.push(w);
  }
  return { flags, rest };
}

/** The words that may be options: everything before a "--". */
export function optionWords(words: string[]): string[] {
  const end = words.indexOf('--');
  return end < 0 ? words : words.slice(0, end);
}

export function usageLine(cmd: string, spec: ArgSpec): string {
  const flags = Object.entries(spec.flags).map(([n, f]) => {
    const name = f.short ? `-${f.short}|--${n}` : `--${n}`;
    const v = f.type === 'bool' ? name : `${name} ${f.value ?? 'VALUE'}`;
    return f.type === 'list' ? `[${v}]...` : `[${v}]`;
  });
  const pos = spec.positional.map((p) => (p.endsWith('?') ? `[${p.slice(0, -1)}]` : p));
  return [cmd, ...pos, ...flags].join(' ');
}
