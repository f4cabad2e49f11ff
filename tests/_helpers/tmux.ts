/**
 * Drives a program in a real terminal: a detached tmux session on a private tmux server (its own
 * socket, its own environment), keys sent with `send-keys`, the screen read with `capture-pane`. Tests
 * synchronise on what the screen shows, polled a bounded number of times, never on fixed sleeps.
 */

/** A program running in a terminal of its own. Disposing it kills the tmux server. */
export interface Terminal extends AsyncDisposable {
  /** Presses keys by tmux's names: `Enter`, `Space`, `Down`, `BSpace`, `C-c`. */
  press(...keys: string[]): Promise<void>;
  /** Types text as it is. */
  type(text: string): Promise<void>;
  /** Everything the program has drawn, scrollback included, wrapped lines joined. */
  screen(): Promise<string>;
  /** Resolves with the screen once `pattern` is on it; fails with the screen if it never shows. */
  waitFor(pattern: RegExp): Promise<string>;
  /** Waits for the program to end and returns its exit status. */
  exitCode(): Promise<number>;
}

export interface TerminalOptions {
  cwd: string;
  /** The program's whole environment (tmux adds TERM). */
  env: Record<string, string>;
  /** How many times the screen is read before `waitFor` gives up; every 50 ms. */
  attempts?: number;
}

/**
 * Starts `command` in a 120x40 terminal.
 *
 * @example
 * ```ts
 * await using terminal = await openTerminal(["relay", "init"], { cwd, env });
 * await terminal.waitFor(/◆ {2}Port relay listens on/);
 * await terminal.type("8788");
 * await terminal.press("Enter");
 * ```
 */
export async function openTerminal(command: string[], options: TerminalOptions): Promise<Terminal> {
  const socket = `relay-test-${crypto.randomUUID()}`;
  const session = "relay";
  const attempts = options.attempts ?? 400;
  const tmux = async (...args: string[]) => {
    const { code, stdout, stderr } = await new Deno.Command("tmux", {
      args: ["-u", "-L", socket, "-f", "/dev/null", ...args],
      cwd: options.cwd,
      clearEnv: true,
      env: options.env,
    }).output();
    const decoder = new TextDecoder();
    if (code !== 0) throw new Error(`tmux ${args.join(" ")}: ${decoder.decode(stderr)}`);
    return decoder.decode(stdout);
  };
  // One invocation, so the pane outlives the program from the first moment and its last screen stays
  // readable. The exit status is printed by a shell around the program: tmux, left to reap it itself,
  // now and then misses the exit and never reports a status.
  await tmux(
    "start-server",
    ";",
    "set-option",
    "-g",
    "remain-on-exit",
    "on",
    ";",
    "new-session",
    "-d",
    "-x",
    "120",
    "-y",
    "40",
    "-s",
    session,
    "-c",
    options.cwd,
    "--",
    "sh",
    "-c",
    // A trap (not an ignore, which the program would inherit) keeps the shell alive through Ctrl-C.
    'trap : INT; "$@"; echo "[exited with $?]"',
    "sh",
    ...command,
  );
  // tmux leaves its socket file behind when the server is killed.
  const socketPath = (await tmux("display-message", "-p", "#{socket_path}")).trim();
  const screen = () => tmux("capture-pane", "-p", "-J", "-S", "-", "-t", session);
  const poll = async <T>(what: string, check: () => Promise<T | undefined>): Promise<T> => {
    for (let attempt = 0; attempt < attempts; attempt++) {
      const found = await check();
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`gave up waiting for ${what}; the screen:\n${await screen()}`);
  };
  return {
    press: async (...keys) => void await tmux("send-keys", "-t", session, ...keys),
    type: async (text) => void await tmux("send-keys", "-t", session, "-l", text),
    screen,
    waitFor: (pattern) =>
      poll(String(pattern), async () => {
        const shown = await screen();
        return pattern.test(shown) ? shown : undefined;
      }),
    exitCode: () =>
      poll("the program to end", async () => {
        const status = /\[exited with (\d+)\]/.exec(await screen());
        return status ? Number(status[1]) : undefined;
      }),
    async [Symbol.asyncDispose]() {
      await tmux("kill-server").catch(() => {});
      await Deno.remove(socketPath).catch(() => {});
    },
  };
}
