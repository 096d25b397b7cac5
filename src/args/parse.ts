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
  /**
   * Names of positional arguments; a trailing "?" marks optional ones. The
   * last may end in "..." (CONTAINER..., COMMAND?...): it takes every word
   * left, at least one unless it is also optional.
   */
  positional: string[];
  /**
   * After this many positional words, every word is the command's, options
   * included (`run IMAGE ls -la`, `exec 20001 ls -la`), as in `docker run`: a
   * "--" right there is dropped. Options go before them.
   */
  commandAfter?: number;
}

/** A positional's name without its markers, and what they say. */
function positionalOf(p: string): { name: string; optional: boolean; many: boolean } {
  const many = p.endsWith('...');
  const bare = many ? p.slice(0, -3) : p;
  return { name: bare.replace(/\?$/, ''), optional: bare.endsWith('?'), many };
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
  const { flags, rest } = scan(cmd, words, spec.flags, opts, false, spec.commandAfter);
  const positional = rest;
  const at = opts.program ? '' : `${cmd}: `;
  const specs = spec.positional.map(positionalOf);
  const required = specs.filter((p) => !p.optional).length;
  if (!flags.help && positional.length < required) {
    throw new DcmError('usage', `${at}missing ${specs[positional.length]!.name} (usage: ${usageLine(cmd, spec)})`);
  }
  if (positional.length > spec.positional.length && !specs.at(-1)?.many) {
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
  commandAfter?: number,
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
    if (commandAfter !== undefined && rest.length >= commandAfter) {
      rest.push(...words.slice(w === '--' ? i + 1 : i));
      break;
    }
    if (w === '--') {
      rest.push(...words.slice(passThrough ? i : i + 1));
      break;
    }
    // Short switches written together (-it, -dit) are each taken on their own.
    if (/^-[A-Za-z]{2,}$/.test(w) && [...w.slice(1)].every((ch) => all[byShort.get(ch) ?? '']?.type === 'bool')) {
      for (const ch of w.slice(1)) flags[byShort.get(ch)!] = true;
      continue;
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
  const pos = spec.positional.map(positionalOf).map((p) => {
    const word = p.many ? `${p.name}...` : p.name;
    return p.optional ? `[${word}]` : word;
  });
  // Options of a command that ends in one of its own stand before it.
  return (spec.commandAfter !== undefined ? [cmd, ...flags, ...pos] : [cmd, ...pos, ...flags]).join(' ');
}
