/**
 * `text` without the run of characters at its end that `char` matches: what
 * `text.replace(/[…]+$/, "")` gives, looking back from the end once. That pattern, tried from every start
 * of a long run that something other than the end follows, is quadratic (6 s for 64 KiB of spaces).
 * `char` matches one character, and has no `g` or `y` flag, which would make it remember where it was.
 *
 * @example
 * ```ts
 * withoutTrailing("http://127.0.0.1:8787//", /\//); // "http://127.0.0.1:8787"
 * withoutTrailing(".corp, ", /[\s,]/); // ".corp"
 * ```
 */
export function withoutTrailing(text: string, char: RegExp): string {
  let end = text.length;
  while (end > 0 && char.test(text[end - 1])) end--;
  return text.slice(0, end);
}
