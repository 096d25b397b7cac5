/**
 * Typed flag parsing for shell commands: each command declares its flags and
 * positional arguments; anything else is refused with one line naming it.
 */
import { DcmError } from '../errors.js';
import { clip } from '../names.js';

export interface FlagSpec {
  type: 'bool' | 'string' | 'list';
  short?: string;
  /** Placeholder shown in usage, e.g. NAME. */
  value?: string;
  help: string;
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

/** Flags every command takes. */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'bool', help: 'print machine-readable JSON' },
  help: { type: 'bool', short: 'h', help: 'show help for this command' },
};

export function parseArgs(cmd: string, words: string[], spec: ArgSpec): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positional: string[] = [];
  const all = { ...COMMON_FLAGS, ...spec.flags };
  const byShort = new Map(Object.entries(all).filter(([, f]) => f.short).map(([n, f]) => [f.short!, n]));
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      positional.push(...words.slice(i + 1));
      break;
    }
    if (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w)) {
      const eq = w.indexOf('=');
      const name = w.startsWith('--') ? w.slice(2, eq > 0 ? eq : undefined) : byShort.get(w.slice(1)) ?? w.slice(1);
      const f = all[name];
      if (!f || (!w.startsWith('--') && !byShort.has(w.slice(1)))) {
        throw new DcmError('usage', `${cmd}: unknown option ${clip(w.split('=')[0]!)} (try "help ${cmd}")`);
      }
      if (f.type === 'bool') {
        if (eq > 0) throw new DcmError('usage', `${cmd}: --${name} takes no value`);
        flags[name] = true;
        continue;
      }
      const val = eq > 0 ? w.slice(eq + 1) : words[++i];
      if (val === undefined) throw new DcmError('usage', `${cmd}: --${name} needs a value (${f.value ?? 'VALUE'})`);
      if (f.type === 'string') {
        if (flags[name] !== undefined) throw new DcmError('usage', `${cmd}: --${name} given twice`);
        flags[name] = val;
      } else {
        const list = (flags[name] as string[] | undefined) ?? [];
        list.push(val);
        flags[name] = list;
      }
      continue;
    }
    positional.push(w);
  }
  const required = spec.positional.filter((p) => !p.endsWith('?')).length;
  if (!flags.help && positional.length < required) {
    throw new DcmError('usage', `${cmd}: missing ${spec.positional[positional.length]!.replace(/\?$/, '')} (usage: ${usageLine(cmd, spec)})`);
  }
  if (positional.length > spec.positional.length) {
    throw new DcmError('usage', `${cmd}: unexpected argument "${clip(positional[spec.positional.length]!)}" (usage: ${usageLine(cmd, spec)})`);
  }
  return { flags, positional };
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
