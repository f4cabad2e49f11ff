/**
 * Text that reaches a terminal: a client, an upstream or a config chose it, so it is shown with escapes
 * wherever a terminal would act on it or show it as something else.
 */

const _ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * The characters a terminal acts on, or shows as something else, rather than shows: control characters
 * (`\p{Cc}`: C0, DEL, C1) would set its title, clear it or break a table's lines; format characters
 * (`\p{Cf}`: a bidi override, a zero-width space) and line or paragraph separators would reverse, hide or
 * split what follows; the Hangul fillers are letters that render blank, so pass for a space between fields.
 */
const _UNSHOWN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/gu;

/**
 * `text` with each character a terminal would act on or show as something else written as an escape
 * (`\x1b`, `\n`, `\u202e`): for text a client, an upstream or a config chose, before it reaches the
 * terminal.
 *
 * @example
 * ```ts
 * visible("a\u001b[2J\nb\u202ec"); // "a\\x1b[2J\\nb\\u202ec"
 * ```
 */
export function visible(text: string): string {
  return text.replace(_UNSHOWN, (char) => _ESCAPES[char] ?? _escape(char.codePointAt(0)!));
}

/**
 * `JSON.stringify(value, null, space)` with the same characters as {@linkcode visible} escaped: it
 * escapes only C0, and a terminal takes C1 for ESC sequences, reorders a line at a bidi override, and
 * shows a Hangul filler as a blank. Strings a client chooses (a path, a model name) reach logs and
 * tables, and in JSON those characters occur only inside strings, where `\u` escapes read back the same.
 *
 * @example
 * ```ts
 * terminalSafeJson({ model: "\u009b31m\u202e" }); // '{"model":"\\u009b31m\\u202e"}'
 * ```
 */
export function terminalSafeJson(value: unknown, space?: number): string {
  // The C0 controls left are the layout's own line breaks: JSON.stringify escaped those in strings.
  return JSON.stringify(value, null, space).replace(
    _UNSHOWN,
    (char) => char < " " ? char : char.split("").map((unit) => _unitEscape(unit.charCodeAt(0))).join(""),
  );
}

// The shortest of JavaScript's escapes for the character `code`.
function _escape(code: number): string {
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, "0")}`;
  return code < 0x10000 ? _unitEscape(code) : `\\u{${code.toString(16)}}`;
}

// `\u` and four hex digits for one UTF-16 code unit: JSON's only escape (a character past U+FFFF is two).
function _unitEscape(unit: number): string {
  return `\\u${unit.toString(16).padStart(4, "0")}`;
}
