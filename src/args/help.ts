/**
 * Help generated from an ArgSpec, for shell commands and programs alike:
 * usage line(s), summary, details, then one line per option.
 */
import { type ArgSpec, type FlagSpec, usageLine } from './parse.js';

export interface HelpPage {
  /** Usage lines, the first after "usage: ", the others aligned under it. */
  usage: string[];
  summary?: string;
  details?: string;
  /** The options listed, in this order. */
  options: Record<string, FlagSpec>;
  /** Width of the option column. */
  width: number;
}

export function helpText(h: HelpPage): string {
  const usage = h.usage.map((l, i) => `${i === 0 ? 'usage: ' : '       '}${l}`);
  return [
    ...usage,
    ...(h.summary ? ['', h.summary] : []),
    ...(h.details ? ['', h.details] : []),
    '',
    'options:',
    ...optionLines(h.options, h.width),
  ].join('\n');
}

function optionLines(flags: Record<string, FlagSpec>, width: number): string[] {
  return Object.entries(flags).map(([n, f]) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${n}${f.type === 'bool' ? '' : ` ${f.value ?? 'VALUE'}`}`;
    return `  ${left.padEnd(width)} ${f.help}`;
  });
}

/** Help of a program whose options are exactly its spec's (dcm-server, dcm-shell). */
export function programHelp(name: string, spec: ArgSpec, summary: string, more: Record<string, FlagSpec> = {}): string {
  return helpText({ usage: [usageLine(name, spec)], summary, options: { ...spec.flags, ...more }, width: 26 });
}
