/**
 * Structured logs on stderr: one JSON object a line for machines, or a short `key=value` line on a
 * terminal. Secrets never reach here unmasked: callers pass key labels, never keys.
 */

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
      if (_RANK[level] >= threshold) write(render(now(), level, msg, fixed, fields));
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
 * `JSON.stringify(value, null, space)` with DEL and C1 controls (U+007F to U+009F) escaped too: it escapes
 * only C0, and a terminal can take C1 for ESC sequences. Strings a client chooses (a path, a model name)
 * reach logs and tables, and in JSON those characters occur only inside strings, where `\u` escapes read
 * back the same.
 *
 * @example
 * ```ts
 * terminalSafeJson({ model: "\u009b31m" }); // '{"model":"\\u009b31m"}'
 * ```
 */
export function terminalSafeJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(
    /[\x7f-\x9f]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

// The fixed fields and the line's own are spread once, here: the access line has a dozen and more.
function _renderJson(time: Date, level: LogLevel, msg: string, fixed: LogFields, fields?: LogFields): string {
  return terminalSafeJson({ time: time.toISOString(), level, msg, ...fixed, ...fields });
}

function _renderText(time: Date, level: LogLevel, msg: string, fixed: LogFields, fields?: LogFields): string {
  const pairs = Object.entries({ ...fixed, ...fields })
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === "string" ? _textValue(value) : value}`);
  return [time.toISOString().slice(11, 23), level.toUpperCase().padEnd(5), msg, ...pairs].join(" ");
}

// Quoted where a bare value would be misread: a space would end it, a quote start another, and a
// control character (`\p{Cc}`: C0, DEL, C1) would reach the terminal, which acts on escape sequences.
function _textValue(value: string): string {
  return /[\s"\\\p{Cc}]/u.test(value) ? terminalSafeJson(value) : value;
}
