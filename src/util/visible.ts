const _ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * The characters a terminal acts on, or shows as something else, rather than shows: control characters
 * (`\p{Cc}`: C0, DEL, C1) would set its title, clear it or break a table's lines; format characters
 * (`\p{Cf}`: a bidi override, a zero-width space) and line or paragraph separators would reverse, hide or
 * split what follows; the Hangul fillers are letters that render blank, so pass for a space between fields.
 */
export const UNSHOWN_CHARACTERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/gu;

/**
 * `text` with each of the {@linkcode UNSHOWN_CHARACTERS} written as an escape: for text a client, an
 * upstream or a config chose, before it reaches the terminal.
 *
 * @example
 * ```ts
 * visible("a\u001b[2J\nb\u202ec"); // "a\\x1b[2J\\nb\\u202ec"
 * ```
 */
export function visible(text: string): string {
  return text.replace(UNSHOWN_CHARACTERS, (char) => _ESCAPES[char] ?? _escape(char.codePointAt(0)!));
}

function _escape(code: number): string {
  const hex = code.toString(16);
  if (code < 0x100) return `\\x${hex.padStart(2, "0")}`;
  return code < 0x10000 ? `\\u${hex.padStart(4, "0")}` : `\\u{${hex}}`;
}
