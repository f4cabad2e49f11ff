/**
 * The servers `bench/loopback.ts` runs as child processes, so their memory can be read alone and they
 * share no event loop with the load generator: started on 127.0.0.1 port 0, found through /proc, weighed,
 * and stopped.
 */

/** Deno's fetch sends even 127.0.0.1 through `HTTP_PROXY` unless told not to. */
export const LOOPBACK_ENV = { NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" };

/** How long a child may take to listen: `deno run` loads its modules first. */
const _START_TIMEOUT_MS = 20_000;
/** How long a child may take to exit on SIGTERM before it gets SIGKILL. */
const _STOP_TIMEOUT_MS = 5_000;
/** How much of a child's stderr is kept to explain a failure. */
const _TAIL_BYTES = 8 * 1024;

/** What a process has used so far. */
export interface Usage {
  /** Resident memory now (`VmRSS`), in MiB. */
  rssMib: number;
  /** The most resident memory it has held (`VmHWM`), in MiB. */
  peakMib: number;
  /** CPU time of all its threads, user and system, in milliseconds (10 ms resolution). */
  cpuMs: number;
}

/** A server running as a child process; disposing of it stops it. */
export interface ChildServer extends AsyncDisposable {
  readonly name: string;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  usage(): Promise<Usage>;
}

/**
 * Runs `deno <args>` in `cwd` and resolves once it listens on 127.0.0.1. The port is read from /proc
 * rather than from the child's log, because relay logs its `listening` line at level info and the
 * benchmark runs it at warn. Stderr is drained all along (a full pipe would stall a child that logs
 * every request) and its end is kept to explain a failure.
 *
 * @example
 * ```ts
 * const args = ["run", "-P=relay", "main.ts", "serve", "--port", "0"];
 * await using relay = await startChildServer("relay", args, new URL("..", import.meta.url));
 * console.log(relay.url, await relay.usage());
 * ```
 */
export async function startChildServer(name: string, args: string[], cwd: URL): Promise<ChildServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: LOOPBACK_ENV,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = _keepTail(child.stderr);
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then((result) => exited = result);
  const describeExit = () =>
    `${name} exited with code ${exited?.code}; the end of its stderr:\n${stderr.text() || "(empty)"}`;

  // A child that died mid-run explains itself here: the run's own error may only say "connection refused".
  const stop = async (explainEarlyExit: boolean) => {
    if (exited && explainEarlyExit) console.error(describeExit());
    const kill = setTimeout(() => _signal(child, "SIGKILL"), _STOP_TIMEOUT_MS);
    if (!exited) _signal(child, "SIGTERM");
    await status;
    clearTimeout(kill);
    await stderr.done;
  };

  let port: number | undefined;
  try {
    const deadline = performance.now() + _START_TIMEOUT_MS;
    while ((port = await _listeningPort(child.pid)) === undefined) {
      if (exited) throw new Error(`${name} did not start: ${describeExit()}`);
      if (performance.now() > deadline) {
        throw new Error(`${name} is not listening after ${_START_TIMEOUT_MS} ms:\n${stderr.text()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } catch (error) {
    await stop(false);
    throw error;
  }

  return {
    name,
    url: `http://127.0.0.1:${port}`,
    usage: () => _usage(child.pid),
    [Symbol.asyncDispose]: () => stop(true),
  };
}

/** Sends `signal` unless the child is already gone, which can happen between the check and the kill. */
function _signal(child: Deno.ChildProcess, signal: Deno.Signal) {
  try {
    child.kill(signal);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
}

/** Reads `stream` to its end, keeping only its last few KiB. */
function _keepTail(stream: ReadableStream<Uint8Array>): { done: Promise<void>; text(): string } {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const done = (async () => {
    for await (const chunk of stream) {
      chunks.push(chunk);
      size += chunk.byteLength;
      while (size - chunks[0].byteLength >= _TAIL_BYTES) size -= chunks.shift()!.byteLength;
    }
  })();
  const text = () => {
    const decoder = new TextDecoder();
    return chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode();
  };
  return { done, text };
}

/**
 * The port process `pid` listens on over TCP, if it does yet: the inodes of its open sockets, matched
 * against the LISTEN (`0A`) rows of its network namespace's table.
 */
async function _listeningPort(pid: number): Promise<number | undefined> {
  const descriptors = await _proc("ls", "-l", `/proc/${pid}/fd`);
  const table = await _proc("cat", `/proc/${pid}/net/tcp`);
  if (descriptors === undefined || table === undefined) return undefined;
  const sockets = new Set(Array.from(descriptors.matchAll(/socket:\[(\d+)\]/g), (match) => match[1]));
  for (const row of table.split("\n").slice(1)) {
    const [, local, , state, , , , , , inode] = row.trim().split(/\s+/);
    if (state === "0A" && sockets.has(inode)) return parseInt(local.split(":")[1], 16);
  }
  return undefined;
}

/** Clock ticks per second in /proc/<pid>/stat: USER_HZ, 100 on every Linux Deno runs on. */
const _TICKS_PER_S = 100;

async function _usage(pid: number): Promise<Usage> {
  const [status, stat] = await Promise.all([
    _proc("cat", `/proc/${pid}/status`),
    _proc("cat", `/proc/${pid}/stat`),
  ]);
  if (status === undefined || stat === undefined) throw new Error(`process ${pid} is gone: no usage to read`);
  const mib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) / 1024;
  // utime and stime are the 14th and 15th fields; the 2nd, the command name, may hold spaces.
  const [utime, stime] = stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(11, 13).map(Number);
  return { rssMib: mib("VmRSS"), peakMib: mib("VmHWM"), cpuMs: (utime + stime) * 1000 / _TICKS_PER_S };
}

/**
 * The output of a coreutils command reading /proc, or `undefined` when it failed (the process is gone).
 * Deno lets no script read another process's /proc entries without --allow-all, but the harness may
 * run programs.
 */
async function _proc(command: string, ...args: string[]): Promise<string | undefined> {
  const { success, stdout } = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" })
    .output();
  return success ? new TextDecoder().decode(stdout) : undefined;
}
