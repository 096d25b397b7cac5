/**
 * Colour for the interactive shell: chalk, but only where the terminal can
 * show it. NO_COLOR (https://no-color.org) always wins; a dumb or unknown
 * terminal gets plain text, so scripts and logs never see escape codes.
 */
import { Chalk, type ChalkInstance } from 'chalk';

export type ColourLevel = 0 | 1 | 2 | 3;

/** Colour depth for a terminal type, from what dcm was told about the client. */
export function colourLevel(term: string | undefined, noColor: boolean, isTerminal: boolean): ColourLevel {
  if (noColor || !isTerminal || !term || term === 'dumb') return 0;
  if (/truecolor|24bit|direct/.test(term)) return 3;
  if (/256/.test(term)) return 2;
  return 1;
}

export function makeChalk(level: ColourLevel): ChalkInstance {
  return new Chalk({ level });
}
