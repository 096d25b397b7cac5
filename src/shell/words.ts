/**
 * Splits a command line into words the way a user expects from a shell
 * (quotes, backslashes) without ever running a shell: the exec door receives
 * `ssh dcm.host create --name "my box"` as one string.
 */
import { DcmError } from '../errors.js';

export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new DcmError('usage', `unterminated ${quote === '"' ? 'double' : 'single'} quote`);
  if (inWord) words.push(cur);
  return words;
}

/**
 * The inverse of splitWords: one line that splits back into exactly these
 * words (each in single quotes, a quote itself as '"'"'), for handing a
 * command the shell already split to a door that takes a line.
 */
export function joinWords(words: string[]): string {
  return words.map((w) => `'${w.replace(/'/g, `'"'"'`)}'`).join(' ');
}
