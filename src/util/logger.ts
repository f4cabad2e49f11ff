/**
 * Structured logs on stderr: one JSON object a line for machines, or a short `key=value` line on a
 * terminal. Secrets never reach here unmasked: callers pass key labels, never keys.
 */
import { UNSHOWN_CHARACTERS } from "./visible.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const _RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /**
   * The same logger with `fields` on every line it writes, before the line's own (which win on a
   * clash): the config version a request runs on, say.
   */
  with(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** `json` (the default) or `text` for people reading a terminal. */
  format?: "json" | "text";
  /**
   * Where lines go: for a server, a `StderrSink`'s `writeLine` (`src/util/stderr_sink.ts`), which never
   * waits for stderr's reader; in tests, an array.
   */
  write: (line: string) => void;
  /** The clock stamped on each line. */
  now?: () => Date;
}

/**
 * @example
 * ```ts
 * const log = createLogger({ level: "info", write: new StderrSink().writeLine }); // from ./stderr_sink.ts
 * log.info("request", { method: "POST", path: "/v1/messages", status: 200, ttfb_ms: 12 });
 * log.with({ config_version: 3 }).info("listening"); // ... "config_version":3 ...
 * ```
 */
export function createLogger(options: LoggerOptions): Logger {
  const threshold = _RANK[options.level ?? "info"];
  const { write } = options;
  const now = options.now ?? (() => new Date());
  const render = options.format === "text" ? _renderText : _renderJson;
  const withFixed = (fixed: LogFields): Logger => {
    const at = (level: LogLevel) => (msg: string, fields?: LogFields) => {
      if (_RANK[level] >= threshold) write(render(now(), level, msg, _lineFields(fixed, fields)));
    };
    return {
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
      with: (more) => withFixed({ ...fixed, ...more }),
    };
  };
  return withFixed({});
}

/**
 * `JSON.stringify(value, null, space)` with every one of the {@linkcode UNSHOWN_CHARACTERS} escaped: it
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
  return JSON.stringify(value, null, space)
    .replace(UNSHOWN_CHARACTERS, (char) => char < " " ? char : _escaped(char));
}

/**
 * Most characters (UTF-16 code units) one string field puts in a line. A client chooses some of them (a
 * 60 KB path of `%01` is 360 KB of `\u0001` escapes, twice on a 404's line) and an upstream others (a
 * 2 MB `event: error` message); uncut, a few such lines fill the `StderrSink`'s 1 MiB queue, and the
 * lines behind them, other clients' access lines, are dropped. 2 KiB, at most 12 KiB once escaped, keeps
 * the longest line (a dozen such fields) far under that queue, and still shows whole an upstream's error
 * message (a few hundred characters) or a stack of Deno's ten frames.
 */
const _MAX_VALUE_CHARS = 2048;

/**
 * Fields cut by whoever logs them, to a bound of their own: `log.bodies` writes each body's first 64 KiB
 * (`MAX_LOGGED_BODY_BYTES` in `src/server/body_log.ts`), as the README promises.
 */
const _SELF_BOUNDED_FIELDS = new Set(["body"]);

// The fixed fields and the line's own are merged once, here, for either rendering (the access line has a
// dozen and more), each string cut to its bound on the way.
function _lineFields(fixed: LogFields, fields: LogFields | undefined): LogFields {
  const merged: LogFields = { ...fixed, ...fields };
  for (const [key, value] of Object.entries(merged)) {
    if (typeof value === "string" && !_SELF_BOUNDED_FIELDS.has(key)) merged[key] = _cut(value);
  }
  return merged;
}

// The start of a long value, and how much of it was left out.
function _cut(value: string): string {
  if (value.length <= _MAX_VALUE_CHARS) return value;
  // Not between the halves of a surrogate pair, which would leave half an emoji.
  const last = value.charCodeAt(_MAX_VALUE_CHARS - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? _MAX_VALUE_CHARS - 1 : _MAX_VALUE_CHARS;
  return `${value.slice(0, end)}…[${value.length - end} more characters]`;
}

// `\uXXXX` for each UTF-16 code unit, as JSON writes the characters it escapes.
function _escaped(chars: string): string {
  let escaped = "";
  for (let at = 0; at < chars.length; at++) {
    escaped += `\\u${chars.charCodeAt(at).toString(16).padStart(4, "0")}`;
  }
  return escaped;
}

function _renderJson(time: Date, level: LogLevel, msg: string, fields: LogFields): string {
  return terminalSafeJson({ time: time.toISOString(), level, msg, ...fields });
}

function _renderText(time: Date, level: LogLevel, msg: string, fields: LogFields): string {
  const pairs = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === "string" ? _textValue(value) : value}`);
  return [time.toISOString().slice(11, 23), level.toUpperCase().padEnd(5), msg, ...pairs].join(" ");
}

// Bare only when every character is printable ASCII and none a quote or backslash. Anything else could be
// misread bare: a space would end the value, a quote start another, a letter that renders blank (U+3164)
// pass for the space between fields, and a control character (`\p{Cc}`) reach the terminal, which acts
// on escape sequences.
function _textValue(value: string): string {
  return /[^\x21-\x7e]|["\\]/.test(value) ? terminalSafeJson(value) : value;
}
