/**
 * Structured logs on stderr: one JSON object a line for machines, or a short `key=value` line on a
 * terminal. Secrets never reach here unmasked: callers pass key labels, never keys.
 */
import { terminalSafeJson } from "./visible.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Under this key a line's fields name those of its strings their caller cut to a bound of its own: the
 * logger writes them whole, and cuts every other string to its first 2,048 characters.
 *
 * @example
 * ```ts
 * log.info("request body", { body: first64KiB, [UNCUT]: ["body"] }); // log.bodies' bound, not 2,048
 * ```
 */
export const UNCUT: unique symbol = Symbol("uncut");

export type LogFields = {
  [key: string]: string | number | boolean | null | undefined;
  [UNCUT]?: readonly string[];
};

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
  // `fixed` is cut already, once for all the lines it goes on.
  const withFixed = (fixed: LogFields): Logger => {
    const at = (level: LogLevel) => (msg: string, fields?: LogFields) => {
      if (_RANK[level] >= threshold) write(render(now(), level, msg, fixed, fields ?? {}));
    };
    return {
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
      with: (more) => withFixed(_cutLong({ ...fixed, ...more }, more)),
    };
  };
  return withFixed({});
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

// `line` with each of `fields`' strings over the bound cut, but those its caller bounds itself (`UNCUT`):
// `line` holds `fields` last, over fields cut before. The length is looked at first: an access line has a
// dozen short strings and more.
function _cutLong(line: LogFields, fields: LogFields): LogFields {
  for (const key in fields) {
    const value = fields[key];
    if (typeof value === "string" && value.length > _MAX_VALUE_CHARS && !fields[UNCUT]?.includes(key)) {
      line[key] = _cut(value);
    }
  }
  return line;
}

// The start of a long value, and how much of it was left out.
function _cut(value: string): string {
  // Not between the halves of a surrogate pair, which would leave half an emoji.
  const last = value.charCodeAt(_MAX_VALUE_CHARS - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? _MAX_VALUE_CHARS - 1 : _MAX_VALUE_CHARS;
  return `${value.slice(0, end)}…[${value.length - end} more characters]`;
}

// Each rendering builds its line's fields once: `fixed`, then `fields`, which win on a clash.
function _renderJson(time: Date, level: LogLevel, msg: string, fixed: LogFields, fields: LogFields): string {
  return terminalSafeJson(_cutLong({ time: time.toISOString(), level, msg, ...fixed, ...fields }, fields));
}

function _renderText(time: Date, level: LogLevel, msg: string, fixed: LogFields, fields: LogFields): string {
  const pairs = Object.entries(_cutLong({ ...fixed, ...fields }, fields))
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
