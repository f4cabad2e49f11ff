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
  /** Settles with why once it has stopped, on its own or disposed of; it never rejects. */
  readonly stopped: Promise<string>;
}

/** How long a server may take to listen: `deno run`, or a worker, loads relay's whole program first. */
export const START_TIMEOUT_MS = 30_000;
/** How long a server may take to stop (a child on SIGTERM) before it is killed. */
export const STOP_TIMEOUT_MS = 5_000;
/** How many of a child's last stderr lines are kept to explain a failure, and how much of each. */
const _TAIL_LINES = 20;
const _LINE_CHARS = 1024;
/**
 * A server that dies fails the requests in flight, which the bench can see before it sees the end of
 * the server; a failed run waits this long for that end, which says more than a failed fetch.
 */
const _NOTICE_MS = 1_000;

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
  const child = new Deno.Command(program, {
    args,
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
  // Once its stderr is drained, so that the tail holds its last words.
  const stopped = status.then(() => stderr.done).then(() =>
    `exited with code ${exited!.code}; the end of its stderr:\n${stderr.tail() || "(empty)"}`
  );

  const stop = async () => {
    const kill = setTimeout(() => _signal(child, "SIGKILL"), STOP_TIMEOUT_MS);
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
      stopped.then((why) => Promise.reject(new Error(`${name} did not start: ${name} ${why}`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${name} is not listening after ${START_TIMEOUT_MS} ms:\n${stderr.tail()}`)),
          START_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    name,
    url,
    process: "child",
    usage: () => childUsage(child.pid),
    stopped,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Runs `work` while `servers` serve it, and fails it if one of them stops before it is done, with an
 * error that names that server and says why; the signal `work` is given is aborted then, so that it
 * ends at once. A failure of `work` itself is put down to a server that stops just after it (requests
 * fail as their server dies), else thrown as it is.
 *
 * @example
 * ```ts
 * const report = await whileServing(Object.values(setup.servers), signal, (signal) => run(setup, signal));
 * ```
 */
export async function whileServing<T>(
  servers: readonly BenchServer[],
  signal: AbortSignal,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ended = new AbortController();
  const stopped = Promise.race(servers.map(async (server) => {
    const why = await server.stopped;
    return new Error(`the ${server.name} ${_KIND[server.process]} stopped mid-run: ${why}`);
  }));
  stopped.then((error) => ended.abort(error));
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const result = await work(AbortSignal.any([signal, ended.signal]));
    ended.signal.throwIfAborted();
    return result;
  } catch (error) {
    if (signal.aborted) throw error;
    throw await Promise.race([
      stopped,
      new Promise((resolve) => timer = setTimeout(resolve, _NOTICE_MS, error)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a server is called, by where it runs, in a message. */
const _KIND: Record<BenchServer["process"], string> = { child: "process", worker: "worker" };

/** Sends `signal` unless the child is already gone, which can happen between the check and the kill. */
function _signal(child: Deno.ChildProcess, signal: Deno.Signal) {
  try {
    child.kill(signal);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
}

/**
 * Reads `stream` to its end, handing each line to `onLine` and keeping the last few but relay's access
 * lines: the bench's relay logs one a request, which would push its last words out.
 */
function _readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): { done: Promise<void>; tail(): string } {
  const kept: string[] = [];
  let partial = "";
  const done = (async () => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        onLine(line);
        if (line.startsWith("{") && line.includes('"msg":"request"')) continue;
        if (kept.push(line.slice(0, _LINE_CHARS)) > _TAIL_LINES) kept.shift();
      }
    }
  })();
  return { done, tail: () => [...kept, partial.slice(0, _LINE_CHARS)].join("\n").trim() };
}
