/**
 * The servers a bench starts: each on 127.0.0.1 at a port of the system's choosing, in a child
 * process (so its memory and CPU are its own, and it shares no event loop with the load generator) or
 * on a worker thread (`worker_server.ts`).
 */
import { childUsage, type Usage } from "./process_usage.ts";

/** A server the bench started; disposing of it stops it. */
export interface BenchServer extends AsyncDisposable {
  readonly name: string;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Whether it runs in its own process or on a thread of the bench's. */
  readonly process: "child" | "worker";
  /** Its usage so far; `undefined` when it cannot be read. A worker's is its JS heap. */
  usage(): Promise<Usage | undefined>;
}

/** How long a child may take to listen: `deno run` loads its modules first. */
const _START_TIMEOUT_MS = 30_000;
/** How long a child may take to exit on SIGTERM before it gets SIGKILL. */
const _STOP_TIMEOUT_MS = 5_000;
/** How much of a child's stderr is kept to explain a failure. */
const _TAIL_CHARS = 8 * 1024;
/** Deno's fetch sends even 127.0.0.1 through `HTTP_PROXY` unless told not to. */
const _LOOPBACK = "127.0.0.1,localhost";

/**
 * Runs `command` and resolves once it logs, on stderr, the JSON line relay writes when it listens:
 * `{"msg":"listening","url":"http://127.0.0.1:PORT",...}`. Its stderr is drained all along (a full
 * pipe would stall a child that logs every request), and its end is kept to explain a failure.
 *
 * @example
 * ```ts
 * await using relay = await startChildServer("relay", [...relayCommand(), "serve", "--port", "0"]);
 * console.log(relay.url, await relay.usage());
 * ```
 */
export async function startChildServer(name: string, command: string[]): Promise<BenchServer> {
  const [program, ...args] = command;
  const noProxy = [Deno.env.get("NO_PROXY"), _LOOPBACK].filter(Boolean).join(",");
  const child = new Deno.Command(program, {
    args,
    env: { NO_PROXY: noProxy, no_proxy: noProxy },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const listening = Promise.withResolvers<string>();
  const stderr = _readLines(child.stderr, (line) => {
    if (line.startsWith('{"') && line.includes('"msg":"listening"')) listening.resolve(JSON.parse(line).url);
  });
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then((result) => exited = result);
  const explain = () =>
    `${name} exited with code ${exited?.code}; the end of its stderr:\n${stderr.tail() || "(empty)"}`;

  const stop = async (explainEarlyExit: boolean) => {
    if (exited && explainEarlyExit) console.error(explain());
    const kill = setTimeout(() => _signal(child, "SIGKILL"), _STOP_TIMEOUT_MS);
    if (!exited) _signal(child, "SIGTERM");
    await status;
    clearTimeout(kill);
    await stderr.done;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  let url: string;
  try {
    url = await Promise.race([
      listening.promise,
      status.then(() => Promise.reject(new Error(`${name} did not start: ${explain()}`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`${name} is not listening after ${_START_TIMEOUT_MS} ms:\n${stderr.tail()}`)),
          _START_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    await stop(false);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    name,
    url,
    process: "child",
    usage: () => childUsage(child.pid),
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

/** Reads `stream` to its end, handing each line to `onLine` and keeping the last few KiB of text. */
function _readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): { done: Promise<void>; tail(): string } {
  let kept = "";
  let partial = "";
  const done = (async () => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      kept = (kept + text).slice(-_TAIL_CHARS);
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) onLine(line);
    }
  })();
  return { done, tail: () => kept };
}
