/**
 * A bench server on a thread of its own: a Web Worker running relay's own program (`main.ts`, the
 * bundle or the compiled binary, whichever is running), which serves what the bench asks for. It is
 * how the bench keeps relay and the pass-through off its own event loop when it may not start child
 * processes (the `relay` permission set, which the bundle and a compiled binary carry, has no
 * `--allow-run`), and how `--provider` runs relay on a config whose keys must not go to a file. A
 * worker inherits the bench's permissions and needs no file of its own, so it works wherever relay
 * itself runs.
 */
import type { Config } from "../config/schema.ts";
import { openLedger } from "../ledger/open.ts";
import { Runtime } from "../server/runtime.ts";
import { startRelayServer } from "../server/serve.ts";
import { EventBus } from "../util/event_bus.ts";
import { createLogger } from "../util/logger.ts";
import { serveBare } from "./bare_passthrough.ts";
import type { Usage } from "./process_usage.ts";
import { type BenchServer, START_TIMEOUT_MS, STOP_TIMEOUT_MS } from "./servers.ts";
import { errorMessage } from "../util/error_message.ts";

/**
 * What a worker serves: relay on a config (a parsed one: it is plain data, copied to the worker as it
 * is, secrets and all, and never written anywhere), or the bare pass-through to `upstream`.
 */
export type WorkerRole = { kind: "relay"; config: Config } | { kind: "bare"; upstream: string };

type _Question = { start: WorkerRole } | { usage: true } | { stop: true };
type _Answer = { listening: string } | { failed: string } | { usage: Usage } | { stopped: true };
/** Each answer carries its question's id: the worker answers `usage` at once, `stop` only once stopped. */
type _ToWorker = _Question & { id: number };
type _FromWorker = _Answer & { id: number };

/** Worker names start with this; {@linkcode isBenchWorker} looks for it. */
const _NAME_PREFIX = "relay-bench:";

/**
 * Starts `role` in a worker running `module` (the running program by default) and resolves once it
 * listens on 127.0.0.1. Its usage is its own isolate's JS heap: a thread's resident memory and CPU
 * cannot be told apart from the process's without reading /proc, which Deno allows only to
 * `--allow-all`.
 *
 * @example
 * ```ts
 * await using bare = await startWorkerServer("bare", { kind: "bare", upstream: "http://127.0.0.1:9000" });
 * console.log(bare.url, await bare.usage());
 * ```
 */
export async function startWorkerServer(
  name: string,
  role: WorkerRole,
  module: string | URL = Deno.mainModule,
  stopTimeoutMs = STOP_TIMEOUT_MS,
): Promise<BenchServer> {
  const worker = new Worker(module, { type: "module", name: `${_NAME_PREFIX}${name}` });
  const replies = new Map<number, PromiseWithResolvers<_Answer>>();
  let asked = 0;
  const stopped = Promise.withResolvers<string>();
  worker.onmessage = ({ data: { id, ...answer } }: MessageEvent<_FromWorker>) => {
    replies.get(id)?.resolve(answer as _Answer);
    replies.delete(id);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    stopped.resolve(event.message);
  };
  // A worker that dies answers every question with why.
  const died = stopped.promise.then((why) => Promise.reject(new Error(`${name} worker failed: ${why}`)));
  died.catch(() => {});
  const ask = (question: _Question): Promise<_Answer> => {
    const id = ++asked;
    const reply = Promise.withResolvers<_Answer>();
    replies.set(id, reply);
    worker.postMessage({ ...question, id });
    return Promise.race([reply.promise, died]);
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const started = await Promise.race([
      ask({ start: role }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${name} worker is not listening after ${START_TIMEOUT_MS} ms`)),
          START_TIMEOUT_MS,
        );
      }),
    ]);
    if (!("listening" in started)) {
      throw new Error(`${name} did not start: ${"failed" in started ? started.failed : "no answer"}`);
    }
    return {
      name,
      url: started.listening,
      process: "worker",
      usage: async () => {
        const answer = await ask({ usage: true }).catch(() => undefined);
        return answer && "usage" in answer ? answer.usage : undefined;
      },
      stopped: stopped.promise,
      [Symbol.asyncDispose]: async () => {
        // As a child that does not stop is killed: a worker stuck in its own code would hold the bench.
        let stopTimer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          ask({ stop: true }).catch(() => {}),
          new Promise((given) => stopTimer = setTimeout(given, stopTimeoutMs)),
        ]);
        clearTimeout(stopTimer);
        worker.terminate();
        stopped.resolve("stopped");
      },
    };
  } catch (error) {
    worker.terminate();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether this program runs as a bench worker, in which case `main.ts` calls
 * {@linkcode serveBenchWorker} instead of the command line.
 */
export function isBenchWorker(): boolean {
  return "WorkerGlobalScope" in globalThis && _scope().name.startsWith(_NAME_PREFIX);
}

/**
 * The worker's side: serves the role it is given until asked to stop.
 */
export function serveBenchWorker(): void {
  const scope = _scope();
  let served: _Served | undefined;
  scope.onmessage = async ({ data }) => {
    const { id } = data;
    if ("start" in data) {
      try {
        served = await _start(data.start);
        scope.postMessage({ id, listening: served.url });
      } catch (error) {
        scope.postMessage({ id, failed: errorMessage(error) });
      }
    } else if ("usage" in data) {
      const { heapUsed } = Deno.memoryUsage();
      scope.postMessage({ id, usage: { memoryMib: heapUsed / (1024 * 1024) } });
    } else {
      await served?.stop();
      scope.postMessage({ id, stopped: true });
    }
  };
}

/** A server a worker runs, on 127.0.0.1. */
interface _Served {
  url: string;
  stop(): Promise<unknown>;
}

async function _start(role: WorkerRole): Promise<_Served> {
  if (role.kind === "relay") return await _startRelay(role.config);
  const server = serveBare(role.upstream);
  return { url: `http://127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

/**
 * relay as `relay serve` starts it (a `Runtime` over the config, the usage ledger it describes, on
 * `config.server.host` and `port`), less what only a process needs: signals and a file to reload.
 * Stopping it drains its streams, then writes what the ledger still holds.
 */
async function _startRelay(config: Config): Promise<_Served> {
  // Rendered at the config's level, so their cost is counted, and dropped: stderr is the bench's.
  const logger = createLogger({ level: config.log.level, write: () => {} });
  const runtime = new Runtime({ config, path: undefined, logger: () => logger, events: new EventBus() });
  const ledger = await openLedger(config, { logger: runtime.logger });
  const server = startRelayServer(runtime, ledger);
  return {
    url: server.url,
    stop: async () => {
      await server.shutdown(config.server.shutdown_grace);
      await ledger.close();
    },
  };
}

/** The parts of a worker's global scope used here, which Deno's window types do not declare. */
interface _WorkerScope {
  name: string;
  postMessage(message: _FromWorker): void;
  onmessage: ((event: MessageEvent<_ToWorker>) => void) | null;
}

function _scope(): _WorkerScope {
  return globalThis as unknown as _WorkerScope;
}
