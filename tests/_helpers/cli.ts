/**
 * Runs relay's real command line in a subprocess, the way a person would: its own working folder and
 * HOME (so no config of the machine's leaks in), and the project's permission set.
 */
const ROOT = new URL("../../", import.meta.url).pathname;

/** The command that runs relay from source with the `relay` permission set; a bundle runs by itself. */
export const FROM_SOURCE = [
  "deno",
  "run",
  "-q",
  "-P=relay",
  "--no-prompt",
  "--config",
  `${ROOT}deno.json`,
  `${ROOT}main.ts`,
];

export interface CliOptions {
  /** Working folder; a fresh temporary one when not given. */
  cwd?: string;
  /** Variables besides PATH, HOME and the proxy bypass. */
  env?: Record<string, string>;
  /** The program to run: relay from source unless a bundle path is given. */
  command?: string[];
  /** Variables left out altogether, HOME included (a service started without one). */
  unset?: string[];
}

/** A fresh empty folder for one test's HOME and working directory. */
export async function sandbox(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "relay-cli-" });
}

/**
 * The whole environment a relay under test runs with: PATH, `home` as HOME, the machine's deno cache,
 * the loopback proxy bypass, and `env` on top; nothing else of the test's own.
 */
export function cliEnv(home: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    // The deno cache stays the machine's: a fresh HOME would otherwise mean a fresh download.
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    NO_PROXY: "127.0.0.1,localhost",
    ...env,
  };
}

function _command(args: string[], options: CliOptions, home: string): Deno.Command {
  const [program, ...base] = options.command ?? FROM_SOURCE;
  return new Deno.Command(program, {
    args: [...base, ...args],
    cwd: options.cwd ?? home,
    clearEnv: true,
    env: _without(cliEnv(home, options.env), options.unset ?? []),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

function _without(env: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !names.includes(name)));
}

/** Runs relay to completion. */
export async function runRelay(args: string[], options: CliOptions = {}) {
  const home = options.cwd ?? await sandbox();
  const { code, stdout, stderr } = await _command(args, options, home).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** A `relay serve` running in the background. */
export interface RunningRelay extends AsyncDisposable {
  url: string;
  process: Deno.ChildProcess;
  /** Everything written to stderr so far, line by line. */
  stderr: string[];
  /** Resolves with the first stderr line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp): Promise<string>;
}

/** Starts `relay serve --port 0 ...args` and resolves once it logs where it listens. */
export async function spawnRelay(args: string[], options: CliOptions = {}): Promise<RunningRelay> {
  const home = options.cwd ?? await sandbox();
  const process = _command(["serve", "--port", "0", ...args], options, home).spawn();
  process.stdout.cancel();
  const stderr: string[] = [];
  const watchers: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const ended = Promise.withResolvers<void>();
  (async () => {
    let partial = "";
    for await (const text of process.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        stderr.push(line);
        for (const watcher of watchers.filter((w) => w.pattern.test(line))) {
          watchers.splice(watchers.indexOf(watcher), 1);
          watcher.resolve(line);
        }
      }
    }
    ended.resolve();
  })();
  const waitForLine = (pattern: RegExp) => {
    const seen = stderr.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return Promise.race([
      new Promise<string>((resolve) => watchers.push({ pattern, resolve })),
      ended.promise.then(() => {
        throw new Error(`relay ended without logging ${pattern}:\n${stderr.join("\n")}`);
      }),
    ]);
  };
  const listening = JSON.parse(await waitForLine(/"msg":"listening"/));
  return {
    url: listening.url,
    process,
    stderr,
    waitForLine,
    async [Symbol.asyncDispose]() {
      try {
        process.kill("SIGKILL");
      } catch {
        // already gone
      }
      await process.status;
      await ended.promise;
    },
  };
}

/** Writes a config file with the given mode and returns its path. */
export async function writeConfig(
  folder: string,
  yaml: string,
  mode = 0o600,
  name = "relay.yaml",
): Promise<string> {
  const path = `${folder}/${name}`;
  await Deno.writeTextFile(path, yaml);
  await Deno.chmod(path, mode);
  return path;
}
