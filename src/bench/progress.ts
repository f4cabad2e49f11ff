/**
 * How far a bench run has got, on stderr (stdout may be carrying JSON): a bar redrawn in place at a
 * terminal, a plain line now and then anywhere else (CI logs, a pipe).
 */

/** What the run tells the progress display. */
export interface Progress {
  /** A new stage, e.g. `concurrency 16`. */
  phase(label: string): void;
  /** `count` more of the run's requests are done. */
  advance(count?: number): void;
  /** The run is over: the bar's line is cleared. */
  finish(): void;
}

/** Where and how progress is shown. */
export interface ProgressOptions {
  /** Requests in the whole run. */
  total: number;
  write(text: string): void;
  /** Redraw a bar in place (a terminal), or print plain lines. */
  terminal: boolean;
  /**
   * The terminal's width, when known: the bar's line is cut one short of it, since a line that wraps
   * is redrawn below itself and leaves its first part behind.
   */
  columns?: () => number | undefined;
  now?: () => number;
}

const _BAR_WIDTH = 30;
const _TERMINAL_INTERVAL_MS = 100;
const _PLAIN_INTERVAL_MS = 5_000;

/**
 * A progress display. At a terminal the bar is redrawn at most every 100 ms; otherwise one line per
 * phase and at most one every 5 s in between.
 *
 * @example
 * ```ts
 * const progress = createProgress({ total: 600, terminal: false, write: (text) => console.error(text) });
 * progress.phase("concurrency 1");
 * progress.advance(100); // "bench: concurrency 1: 100/600 requests (17%)", if 5 s have passed
 * progress.finish();
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  const { total, write, terminal } = options;
  const now = options.now ?? (() => performance.now());
  const interval = terminal ? _TERMINAL_INTERVAL_MS : _PLAIN_INTERVAL_MS;
  let done = 0;
  let label = "starting";
  let shownAt = -Infinity;
  let shownDone = -1;
  const show = () => {
    shownAt = now();
    shownDone = done;
    const share = total > 0 ? Math.min(1, done / total) : 1;
    const percent = `${Math.floor(share * 100)}%`;
    if (!terminal) return write(`bench: ${label}: ${done}/${total} requests (${percent})\n`);
    const filled = Math.round(share * _BAR_WIDTH);
    const line = `[${"#".repeat(filled)}${"-".repeat(_BAR_WIDTH - filled)}] ${percent.padStart(4)} ${label}`;
    const columns = options.columns?.();
    write(`\r\x1b[2K${columns ? line.slice(0, columns - 1) : line}`);
  };
  return {
    phase(next) {
      label = next;
      show();
    },
    advance(count = 1) {
      done += count;
      if (now() - shownAt >= interval) show();
    },
    finish() {
      // Plain lines end where the run did, not at the last interval's count.
      if (terminal) write("\r\x1b[2K");
      else if (done !== shownDone) show();
    },
  };
}

/**
 * {@linkcode createProgress} on this process's stderr.
 *
 * @example
 * ```ts
 * const progress = stderrProgress(600);
 * ```
 */
export function stderrProgress(total: number): Progress {
  const encoder = new TextEncoder();
  return createProgress({
    total,
    terminal: Deno.stderr.isTerminal(),
    write: (text) => void Deno.stderr.writeSync(encoder.encode(text)),
    columns: _columns,
  });
}

/** The terminal's width; `undefined` when no stream is one, or it reports none (0, as some ptys do). */
function _columns(): number | undefined {
  try {
    return Deno.consoleSize().columns || undefined;
  } catch {
    return undefined;
  }
}
