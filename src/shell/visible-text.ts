/**
 * What a user types on a terminal reaches the line editor (readline, inquirer)
 * with every character that would act on the terminal, or hide and reorder
 * text, replaced by U+FFFD.
 *
 * Why: the line editor echoes typed text as it is, and C0 controls it reads
 * as keys, but a C1 control typed or pasted as UTF-8 (U+009B is a one-character
 * CSI, U+009D an OSC) is text to it and went straight back to the terminal,
 * which acts on it (clears the screen, sets the title or the clipboard); bidi
 * overrides, isolates and marks reorder what the user sees of the line, and
 * zero-width characters hide part of it. None of them can be part of a valid
 * command (every name dcm takes is ASCII), so shown as U+FFFD the line looks
 * like what it is, and its refusal names the same thing the user sees.
 *
 * Works on bytes as the input guard hands them on: a character split between
 * two pieces waits for its rest; bytes below 0x80 (text, keys, escape
 * sequences) pass unchanged, and other invalid UTF-8 becomes U+FFFD as
 * readline's own decoding would make it.
 */

/** C1 controls, the Arabic letter mark, zero-width and bidi marks, separators, bidi overrides and isolates, word joiner and invisible operators, BOM. */
const HIDDEN = /[\u0080-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const REPLACEMENT = '\ufffd';
/** No carried bytes (shared: never written to). */
const NONE = Buffer.alloc(0);

/** How many bytes a UTF-8 sequence with this lead byte has (0 for a continuation or invalid byte). */
function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

export class VisibleText {
  /** The start of a character whose rest has not come yet. */
  private carry: Buffer = NONE;

  /** The bytes to hand on for `b`: the same, unless it holds a hidden character or ends inside one. */
  pass(b: Buffer): Buffer {
    const all = this.carry.length ? Buffer.concat([this.carry, b]) : b;
    this.carry = NONE;
    let highAt = -1;
    for (let i = 0; i < all.length; i++)
      if (all[i]! >= 0x80) {
        highAt = i;
        break;
      }
    if (highAt < 0) return all;
    const keep = all.length - this.incompleteTail(all);
    if (keep < all.length) this.carry = Buffer.from(all.subarray(keep));
    const text = all.toString('utf8', 0, keep);
    return Buffer.from(text.replace(HIDDEN, REPLACEMENT), 'utf8');
  }

  /** Bytes at the end of `b` that start a character not complete yet (0 when none). */
  private incompleteTail(b: Buffer): number {
    for (let back = 1; back <= 3 && back <= b.length; back++) {
      const c = b[b.length - back]!;
      if (c < 0x80) return 0;
      if (c >= 0xc0) return sequenceLength(c) > back ? back : 0;
    }
    return 0;
  }
}
